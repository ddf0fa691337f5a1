"""One-shot GPU training session (how the GPU runs behind colorize-v3 and the style presets were trained on a lent H200;
the colorizer runs are now the semantic MobileNetV2 U-Net).

Colorizer variants and four style presets train side by side, then temporal fine-tunes, then everything
is packed into at most 8 tar files for the trip back (the device tool's limits).

    # here: photos downscaled to short side 360 (bsds500_test left out) and the paintings, into .gpu/
    python3 scripts/gpu_session/prepare.py
    # there (no PyAV on the GPU image: .gpu/stub stands in, training reads images only):
    python3 scripts/gpu_session/train_all.py $OUT [--budget 530] [--scale 1.0] [--device cuda]

Phases (scale 1): 1a 40 s at constant learning rate to measure each run's steps/s; 1b resumes every run
with a step count that fits 210 s (constant, then linear decay); 2 fine-tunes with the warp loss.
"""

from __future__ import annotations

import argparse
import json
import os
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

# The semantic colorizer (ImageNet MobileNetV2 encoder, ab-bin cross-entropy) with its guidance inputs (a palette,
# hints: filmgan.train.colorize_guided): three loss mixes side by side.
COLORIZE = {
    "cA": ["--adv-weight", "0.1", "--l1-weight", "10", "--ce-weight", "1"],
    "cB": ["--adv-weight", "0.1", "--l1-weight", "10", "--ce-weight", "1", "--perceptual-weight", "0.05"],
    "cC": ["--adv-weight", "0.3", "--l1-weight", "3", "--ce-weight", "1", "--rebalance", "0.3"],
}
COLORIZE_COMMON = ["--arch", "mobilenet-unet", "--guided", "--encoder-weights", str(TFLITE), "--batch", "32", "--crop", "192", "--lr", "2e-4",
                   "--load-size", "256", "--internal-size", "192"]
STYLES = {
    "the-scream": ("the_scream.jpg", "Edvard Munch", "The Scream", "1893"),
    "composition-vii": ("composition_vii.jpg", "Wassily Kandinsky", "Composition VII", "1913"),
    "shipwreck": ("shipwreck_of_the_minotaur.jpg", "J. M. W. Turner", "The Shipwreck of the Minotaur", "c. 1810"),
    "monet-dusk": ("monet_san_giorgio_maggiore_at_dusk.jpg", "Claude Monet", "San Giorgio Maggiore at Dusk", "1908-1912"),
}
SHIPPED_STYLES = {"starry-night": "starry_night.jpg", "great-wave": "great_wave.jpg"}
STYLE_COMMON = ["--widths", "16,32,64", "--blocks", "5", "--stem-kernel", "5", "--content-weight", "2.0", "--style-weight", "2.5",
                "--tv-weight", "2.0", "--adv-weight", "0.05", "--style-layers", "1,2,3", "--lr", "5e-4", "--batch", "4", "--crop", "192",
                "--load-size", "360", "--internal-size", "360"]


def fg(args: list[str], log: Path, device: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="2")
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

    RUNS.mkdir(parents=True, exist_ok=True)
    logs = RUNS / "logs"
    logs.mkdir(exist_ok=True)
    s = a.scale
    t1a, t1b, t2 = 40 * s, 210 * s, 110 * s

    def colorize_args(name: str, steps: int, limit: float, val_every: int, resume: bool) -> list[str]:
        return ["colorize", "--data", str(P), "--val", str(VAL), *COLORIZE[name], *COLORIZE_COMMON, "--steps", str(steps),
                "--val-every", str(val_every), "--ckpt-every", "100", "--time-limit", str(limit), "--out", str(RUNS / name),
                *(["--resume"] if resume else [])]

    def style_args(name: str, steps: int, limit: float, val_every: int, resume: bool) -> list[str]:
        painting, painter, title, year = STYLES[name]
        return ["stylize", "--style", str(G / "styles" / painting), "--data", str(P), "--val", str(VAL), *STYLE_COMMON,
                "--painter", painter, "--title", title, "--year", year, "--steps", str(steps), "--val-every", str(val_every),
                "--ckpt-every", "100", "--time-limit", str(limit), "--out", str(RUNS / name), *(["--resume"] if resume else [])]

    # Phase 1a: calibration at constant learning rate (steps far away), stops at the time limit.
    say(f"phase 1a: {t1a:.0f} s calibration")
    procs = {n: fg(colorize_args(n, 10**6, t1a, 10**6, False), logs / f"{n}.log", a.device) for n in COLORIZE}
    procs.update({n: fg(style_args(n, 10**6, t1a, 10**6, False), logs / f"{n}.log", a.device) for n in STYLES})
    wait_all(procs, say)
    plan = {}
    for n in [*COLORIZE, *STYLES]:
        step, r = state_step(RUNS / n), rate(RUNS / n)
        usable = t1b - (35 * s if n in COLORIZE else 10 * s)
        plan[n] = max(step + 50, int(step + r * usable))
        say(f"  {n}: step {step}, {r:.2f} steps/s -> plan {plan[n]} steps")

    # Phase 1b: resume with a schedule (constant, then linear decay over the second half) that fits the time.
    say(f"phase 1b: {t1b:.0f} s")
    procs = {n: fg(colorize_args(n, plan[n], t1b + 25 * s, max(50, plan[n] // 10 // 50 * 50), True), logs / f"{n}.log", a.device) for n in COLORIZE}
    procs.update({n: fg(style_args(n, plan[n], t1b + 25 * s, max(50, plan[n] // 6 // 50 * 50), True), logs / f"{n}.log", a.device) for n in STYLES})
    wait_all(procs, say)
    for n in [*COLORIZE, *STYLES]:
        say(f"  {n}: reached step {state_step(RUNS / n)} of {plan[n]}")

    subprocess.run([sys.executable, str(CODE / "pack.py"), str(RUNS), str(a.out)], check=False)  # phase-1 results are safe now
    say("packed phase 1")
    # Phase 2: temporal fine-tunes (synthetic motion on the photos; warp loss), within what is left.
    t2 = max(20 * s, min(t2, a.budget * s - (time.monotonic() - t_start) - 75 * s))
    say(f"phase 2: {t2:.0f} s temporal fine-tunes")
    inits = {f"t-{n}": (RUNS / n, None, n) for n in ("cA", "cB")}
    inits.update({f"t-{n}": (RUNS / n, G / "styles" / STYLES[n][0], n) for n in STYLES})
    inits.update({f"t-{n}": (ROOT / "filmgan" / "weights" / f"style-{n}.safetensors", G / "styles" / p, None) for n, p in SHIPPED_STYLES.items()})
    style_rate = sum(rate(RUNS / n) for n in STYLES) / len(STYLES)
    procs = {}
    for name, (init, painting, base) in inits.items():
        r = rate(RUNS / base) if base else style_rate
        steps = max(40, int(r * t2 / 2.5))
        args = ["temporal", "--init", str(init), "--data", str(P), "--val", str(VAL), "--real-fraction", "0", "--lr", "5e-5",
                "--crop", "192", "--batch", "16" if painting is None else "4", "--temporal-weight", "30" if painting is None else "50",
                "--steps", str(steps), "--val-every", str(max(20, steps // 3)), "--ckpt-every", "100", "--time-limit", str(t2 + 10 * s),
                "--out", str(RUNS / name)]
        if painting is not None:
            args += ["--style", str(painting)]
        say(f"  {name}: {steps} steps")
        procs[name] = fg(args, logs / f"{name}.log", a.device)
    wait_all(procs, say)
    say("packing")
    subprocess.run([sys.executable, str(CODE / "pack.py"), str(RUNS), str(a.out)], check=False)
    say("done")


if __name__ == "__main__":
    main()
