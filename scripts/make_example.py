"""Make examples/bunny_grey.mp4: the 1-second Big Buck Bunny excerpt from ../shared/data/videos, in
greyscale (as old film would be), H.264 + AAC, so the README's first command has real footage to colorize.

Big Buck Bunny (c) copyright 2008, Blender Foundation / www.bigbuckbunny.org, CC-BY 3.0.
Usage: python scripts/make_example.py [SOURCE] [DEST]
"""

import sys
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
src = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared/data/videos/big_buck_bunny_432_433.webm"
dst = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "examples/bunny_grey.mp4"

with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
    vin, ain = inp.streams.video[0], inp.streams.audio[0]
    vout = out.add_stream("libx264", rate=vin.average_rate, options={"crf": "24", "preset": "slow"})
    vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
    aout = out.add_stream("aac", rate=ain.rate, layout=ain.layout.name)
    aout.bit_rate = 96000
    for frame in inp.decode(vin):
        grey = cv2.cvtColor(frame.to_ndarray(format="rgb24"), cv2.COLOR_RGB2GRAY)
        vf = av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, axis=2), format="rgb24").reformat(format="yuv420p")
        vf.pts, vf.time_base = frame.pts, frame.time_base
        out.mux(vout.encode(vf))
    out.mux(vout.encode(None))
    inp.seek(0)
    resampler = av.AudioResampler(format="fltp", layout=ain.layout.name, rate=ain.rate)
    for frame in inp.decode(ain):
        for rf in resampler.resample(frame):
            out.mux(aout.encode(rf))
    out.mux(aout.encode(None))
print(f"wrote {dst} ({dst.stat().st_size} bytes)")
