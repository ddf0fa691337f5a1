"""Render-farm batch jobs: a TOML job of shots, planned into frame-range chunks that any farm can run,
rendered into lossless segments with manifests, merged by stream copy; local and Dask executors; exports
for OpenCue, Deadline, Open Job Description and plain shell.

    jobfile.py   job file: parse, validate, resolve paths      jobinit.py  'batch init': write a job file
    shotconfig.py a shot's typed render settings                plan.py     chunks aligned to scene cuts, task ids
    manifest.py  segment files and their JSON manifests         chunk.py    render one chunk (no-op when valid)
    merge.py     stream-copy merge, audio copy, verification    executors.py local process pool and Dask
    exports.py   OpenCue, Deadline, OpenJD, shell
"""
