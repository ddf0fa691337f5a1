"""The two task functions every executor runs, by name and with plain arguments (the job file's path and a
task id or shot name), so a worker process on any machine rebuilds what it needs from the job file and the
plan cached beside it. Results are plain dicts."""

from __future__ import annotations

from .jobfile import load_job
from .plan import parse_task_id, plan_shot


def chunk_task(job_path: str, chunk_id: str, threads: int = 0) -> dict:
    """Render one planned chunk (a no-op when its segment is already valid)."""
    from .chunk import run_chunk

    job = load_job(job_path)
    shot = job.shot(parse_task_id(chunk_id)[0])
    return run_chunk(job, shot, plan_shot(job, shot).chunk(chunk_id), threads=threads).to_dict()


def merge_task(job_path: str, shot_name: str, *chunk_results: dict) -> dict:
    """Merge a shot once all its chunks are done (``chunk_results`` only orders the task after them)."""
    from .merge import merge_shot

    job = load_job(job_path)
    shot = job.shot(shot_name)
    return merge_shot(job, shot, plan_shot(job, shot)).to_dict()
