"""One-shot GPU training session: the runs that issues 12 (colorizer) and 13 (style flicker) need a GPU for.

- **Colorizer** (issue 12): the automatic semantic colorizer of colorize-v5 (ImageNet MobileNetV2 encoder,
  ab-bin cross-entropy, L1, PatchGAN) at GPU scale (batch 32; the photos at the short side prepare.py fitted),
  three loss mixes side by side, then a temporal fine-tune (warp loss) of two of them. On CPU the same recipe
  ran 2,600 steps of batch 12 (~12 epochs); every CPU continuation since landed on the same
  ΔE-against-colourfulness curve (README, "The default colorizer").
- **Style presets** (issue 13): long temporal fine-tunes (warp loss 50, the paint recipe's MobileNetV2
  losses) of every shipped preset from its shipped weights. On CPU they ran 190-400 steps; 133 -> 400 steps
  cut composition-vii's and shipwreck's blended E_warp by 8.5 % and 12 % (presets/README.md). The four that
  flicker most train from the start, the other four in phase 2.

Everything is packed into at most 8 tar files for the trip back (the device tool's limits). Choosing and
shipping happens afterwards on CPU, on validation only (``scripts/select_colorizer.py``,
``scripts/eval_styles.py --split validation``, ``scripts/bench_style_flicker.py``).

    # here: photos downscaled to short side 360 (the held-out split left out), the paintings, the weights, into .gpu/
    python3 scripts/gpu_session/prepare.py
    # there (no PyAV on the GPU image: .gpu/stub stands in, training reads images only):
    python3 scripts/gpu_session/train_all.py $OUT [--budget 540] [--scale 1.0] [--device cuda]
    # a smoke test of the plumbing on CPU (minutes, nothing worth keeping):
    python3 scripts/gpu_session/train_all.py /tmp/fg-out --scale 0.1 --device cpu

Phases (scale 1): 1a 40 s at constant learning rate to measure each run's steps/s; 1b resumes every run
with a step count that fits 210 s (constant, then linear decay); 2 fine-tunes with the warp loss.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE = Path(__file__).resolve().parent
G = ROOT / ".gpu"
P = G / "photos"
VAL = G / "validation"
TFLITE = G / "weights" / "mobilenet_v2_1.0_224_quant.tflite"
RUNS = Path("/tmp/fg-runs")

# The automatic semantic colorizer: three loss mixes side by side (cA is colorize-v5's recipe).
COLORIZE = {
    "cA": ["--adv-weight", "0.1", "--l1-weight", "10", "--ce-weight", "1"],
    "cB": ["--adv-weight", "0.1", "--l1-weight", "10", "--ce-weight", "1", "--perceptual-weight", "0.05"],
    "cC": ["--adv-weight", "0.3", "--l1-weight", "3", "--ce-weight", "1", "--rebalance", "0.3"],
}
COLORIZE_COMMON = ["--arch", "mobilenet-unet", "--encoder-weights", str(TFLITE), "--batch", "32", "--lr", "2e-4", "--internal-size", "192"]
COLORIZE_TEMPORAL = ("cA", "cB")
# Shipped style presets and their paintings (byte copies in .gpu/styles: the cards check their sha256).
# The first four flicker most against v1 (presets/README.md) and fine-tune for the whole session.
STYLES = {
    "composition-vii": "composition_vii.jpg",
    "shipwreck": "shipwreck_of_the_minotaur.jpg",
    "the-scream": "the_scream.jpg",
    "monet-dusk": "monet_san_giorgio_maggiore_at_dusk.jpg",
    "starry-night": "starry_night.jpg",
    "great-wave": "great_wave.jpg",
    "rhone": "van_gogh_starry_night_over_the_rhone.png",
    "te-fare": "gauguin_te_fare.jpg",
}
STYLES_FIRST = ("composition-vii", "shipwreck", "the-scream", "monet-dusk")
STYLE_TEMPORAL = ["--feature-weights", str(TFLITE), "--real-fraction", "0", "--temporal-weight", "50", "--batch", "8", "--lr", "5e-5"]
# The warp loss smooths strokes away unless the luminance-edge term holds them to the photo's edges. These
# presets fell under the detail bar in CPU fine-tunes at edge weight 2; shipwreck kept it at 4 (monet-dusk at 8,
# now in its card; presets/README.md). rhone and te-fare get the same 4: on CPU, 1,200 steps at 6 (te-fare
# then 500 at 10) still ended at validation detail 0.41-0.49, under the 0.5 bar: not shipped.
STYLE_EDGE_WEIGHT = {"shipwreck": 4.0, "rhone": 4.0, "te-fare": 4.0}


def run_dir(name: str) -> Path:
    """A colorizer's run (cA...) or a style preset's temporal fine-tune (t-NAME)."""
    return RUNS / (name if name in COLORIZE else f"t-{name}")


def photo_size() -> list[str]:
    """--load-size and --crop for the photos prepare.py wrote (their short side fits the device's 64 MiB)."""
    side = int(json.loads((G / "prepared.json").read_text())["short_side"])
    return ["--load-size", str(side), "--crop", str(192 if side >= 224 else 160)]


def fg(args: list[str], log: Path, device: str) -> subprocess.Popen:
    path = os.pathsep.join(filter(None, [str(G / "stub"), os.environ.get("PYTHONPATH")]))  # av stub, tflite
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2", PYTHONPATH=path)
    cmd = [sys.executable, str(CODE / "fg.py"), "train", *args, "--device", device, "--quiet"]
    return subprocess.Popen(cmd, stdout=open(log, "a"), stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def wait_all(procs: dict[str, subprocess.Popen], say) -> None:
    for name, p in procs.items():
        rc = p.wait()
        say(f"  {name}: exit {rc}")


def state_step(run: Path) -> int:
    """The step of the run's last validation (runs end validated and checkpointed at the time limit)."""
    f = run / "val.jsonl"
    rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()] if f.exists() else []
    return int(rows[-1]["step"]) if rows else 0


def rate(run: Path) -> float:
    f = run / "train.jsonl"
    if not f.exists():
        return 0.0
    rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    rates = [r["steps_per_s"] for r in rows[1:]] or [r["steps_per_s"] for r in rows]
    return float(sum(rates[-3:]) / len(rates[-3:])) if rates else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=540.0, help="seconds for everything, packing included")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    logf = open(a.out / "session.log", "a")
    t_start = time.monotonic()

    def say(msg: str) -> None:
        line = f"[{time.monotonic() - t_start:6.1f}s] {msg}"
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    shutil.rmtree(RUNS, ignore_errors=True)  # a machine kept warm still holds the last session's runs
    RUNS.mkdir(parents=True, exist_ok=True)
    logs = RUNS / "logs"
    logs.mkdir(exist_ok=True)
    s = a.scale
    t1a, t1b, t2 = 40 * s, 210 * s, 110 * s

    def colorize_args(name: str, steps: int, limit: float, val_every: int, resume: bool) -> list[str]:
        return ["colorize", "--data", str(P), "--val", str(VAL), *COLORIZE[name], *COLORIZE_COMMON, *photo_size(), "--steps", str(steps),
                "--val-every", str(val_every), "--ckpt-every", "100", "--time-limit", str(limit), "--out", str(RUNS / name),
                *(["--resume"] if resume else [])]

    def style_args(name: str, steps: int, limit: float, val_every: int, resume: bool) -> list[str]:
        return ["temporal", "--init", str(ROOT / "filmgan" / "weights" / f"style-{name}.safetensors"), "--style", str(G / "styles" / STYLES[name]),
                "--data", str(P), "--val", str(VAL), *STYLE_TEMPORAL, *photo_size(), "--steps", str(steps), "--val-every", str(val_every),
                "--ckpt-every", "100", "--time-limit", str(limit), "--out", str(run_dir(name)), *(["--resume"] if resume else []),
                *(["--edge-weight", str(STYLE_EDGE_WEIGHT[name])] if name in STYLE_EDGE_WEIGHT else [])]

    # Phase 1a: calibration at constant learning rate (steps far away), stops at the time limit.
    say(f"phase 1a: {t1a:.0f} s calibration")
    procs = {n: fg(colorize_args(n, 10**6, t1a, 10**6, False), logs / f"{n}.log", a.device) for n in COLORIZE}
    procs.update({n: fg(style_args(n, 10**6, t1a, 10**6, False), logs / f"t-{n}.log", a.device) for n in STYLES_FIRST})
    wait_all(procs, say)
    plan, rates = {}, {}
    for n in [*COLORIZE, *STYLES_FIRST]:
        step, rates[n] = state_step(run_dir(n)), rate(run_dir(n))
        usable = t1b - (35 * s if n in COLORIZE else 10 * s)
        plan[n] = max(step + 50, int(step + rates[n] * usable))
        say(f"  {n}: step {step}, {rates[n]:.2f} steps/s -> plan {plan[n]} steps")

    # Phase 1b: resume with a schedule (constant, then linear decay over the second half) that fits the time.
    say(f"phase 1b: {t1b:.0f} s")
    procs = {n: fg(colorize_args(n, plan[n], t1b + 25 * s, max(50, plan[n] // 10 // 50 * 50), True), logs / f"{n}.log", a.device) for n in COLORIZE}
    procs.update({n: fg(style_args(n, plan[n], t1b + 25 * s, max(50, plan[n] // 4 // 50 * 50), True), logs / f"t-{n}.log", a.device)
                  for n in STYLES_FIRST})
    wait_all(procs, say)
    for n in [*COLORIZE, *STYLES_FIRST]:
        say(f"  {n}: reached step {state_step(run_dir(n))} of {plan[n]}")

    subprocess.run([sys.executable, str(CODE / "pack.py"), str(RUNS), str(a.out)], check=False)  # phase-1 results are safe now
    say("packed phase 1")
    # Phase 2: the colorizers' temporal fine-tunes and the other four presets', within what is left.
    t2 = max(20 * s, min(t2, a.budget * s - (time.monotonic() - t_start) - 75 * s))
    say(f"phase 2: {t2:.0f} s temporal fine-tunes")
    style_rate = sum(rates[n] for n in STYLES_FIRST) / len(STYLES_FIRST)
    procs = {}
    for n in COLORIZE_TEMPORAL:
        steps = max(40, int(rates[n] * t2 / 2.5))
        args = ["temporal", "--init", str(RUNS / n), "--data", str(P), "--val", str(VAL), "--real-fraction", "0", "--lr", "5e-5",
                *photo_size(), "--feature-weights", str(TFLITE), "--batch", "16", "--temporal-weight", "30", "--steps", str(steps), "--val-every", str(max(20, steps // 3)),
                "--ckpt-every", "100", "--time-limit", str(t2 + 10 * s), "--out", str(RUNS / f"t-{n}")]
        say(f"  t-{n}: {steps} steps")
        procs[f"t-{n}"] = fg(args, logs / f"t-{n}.log", a.device)
    for n in STYLES:
        if n not in STYLES_FIRST:
            steps = max(40, int(style_rate * (t2 - 10 * s)))
            say(f"  t-{n}: {steps} steps")
            procs[f"t-{n}"] = fg(style_args(n, steps, t2 + 10 * s, max(20, steps // 4), False), logs / f"t-{n}.log", a.device)
    wait_all(procs, say)
    say("packing")
    subprocess.run([sys.executable, str(CODE / "pack.py"), str(RUNS), str(a.out)], check=False)
    say("done")


if __name__ == "__main__":
    main()
