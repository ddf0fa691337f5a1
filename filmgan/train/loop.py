"""The GAN training loop shared by every task (colorize, style, temporal fine-tuning).

A task (``GANTask``) knows its data, networks and losses; ``Trainer`` owns everything else: optimizers
(Adam, betas (0.5, 0.999) as in pix2pix/DCGAN), a constant-then-linear-decay schedule, mixed precision
(bf16 autocast on CPU with AMX and on CUDA), DDP when launched with torchrun, periodic validation with a
sample grid, JSONL logs, and checkpoints from which ``resume`` continues bit for bit.

Run directory layout::

    RUN/train.jsonl  RUN/val.jsonl          one JSON object per line
    RUN/samples/step-000500.png             validation grids
    RUN/model.safetensors (+ .json)         the generator with its card (after each validation)
    RUN/snapshots/step-000500.safetensors   the same, kept per validation, to select by validation score
    RUN/last/state.{safetensors,json}       full training state for --resume
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
from torch import nn

from ..backends.device import autocast_dtype, pick_device
from ..card import ModelCard
from ..errors import CheckpointError
from ..models.checkpoint import save_model
from .state import load_state, restore_rng, rng_state, save_state


@dataclass(frozen=True)
class TrainConfig:
    out: Path
    steps: int = 20000
    batch: int = 16
    crop: int = 176
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    decay_from: float = 0.5  # fraction of steps after which the learning rate decays linearly to 0
    gan_mode: str = "hinge"
    seed: int = 0
    precision: str = "auto"  # auto | bf16 | fp16 | fp32
    log_every: int = 50
    val_every: int = 500
    ckpt_every: int = 250
    threads: int = 0  # CPU threads (0 = torch default)
    device: str = "auto"
    time_limit: float = 0.0  # seconds of training in this process (0: none); the run stops resumable at a validation
    extra: dict[str, Any] = field(default_factory=dict)


class GANTask(Protocol):
    """What a task gives the trainer."""

    name: str

    def build(self) -> tuple[nn.Module, nn.Module]: ...

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]: ...

    def d_loss(self, G: nn.Module, D: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]: ...

    def g_loss(self, G: nn.Module, D: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]: ...

    def validate(self, G: nn.Module, device: torch.device) -> tuple[dict[str, float], np.ndarray]: ...

    def card(self, G: nn.Module, step: int, metrics: dict[str, float], config: TrainConfig) -> ModelCard: ...


def training_record(config: TrainConfig, step: int, **task_fields: Any) -> dict[str, Any]:
    """The ``training`` part of a model card: the run's shared settings plus the task's own."""
    return {"steps": step, "batch": config.batch, "crop": config.crop, "gan_mode": config.gan_mode, "lr": [config.lr_g, config.lr_d], "precision": config.precision, **task_fields}


def task_card(G: nn.Module, task: str, color_space: str, io: dict[str, str], internal_size: int | None, config: TrainConfig, step: int,
              metrics: dict[str, float], **training: Any) -> ModelCard:
    """The card of a generator at a validation: named after the run directory, the training record of
    ``training_record`` plus the task's own fields, the validation metrics."""
    return ModelCard(
        name=f"{task}-{config.out.name}", task=task, arch=G.ARCH, args=G.args, color_space=color_space, io=io, internal_size=internal_size,
        training=training_record(config, step, **training), metrics={"validation": metrics},
    )


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Stack validation rows of different widths into one grid image (right-padded with black)."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r[:, :width], ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)


class Trainer:
    def __init__(self, task: GANTask, config: TrainConfig, log: Callable[[dict], None] | None = None):
        self.task, self.cfg, self.log = task, config, log or (lambda event: None)
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = pick_device(config.device)
        if self.world > 1:
            self._init_ddp()
        torch.manual_seed(config.seed + self.rank)
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + self.rank)
        self.G, self.D = (m.to(self.device) for m in task.build())
        self.G_train, self.D_train = self._wrap(self.G), self._wrap(self.D)
        groups = getattr(task, "optimizer_groups", None)  # e.g. a pretrained encoder at a lower rate
        self.opt_g = torch.optim.Adam(groups(self.G, config.lr_g) if groups else self.G.parameters(), lr=config.lr_g, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, self._lr_factor)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, self._lr_factor)
        self.amp = autocast_dtype(config.precision, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16 and self.device.type == "cuda")
        self.step = 0
        self.last_metrics: dict[str, float] = {}

    # -- setup ---------------------------------------------------------------------------------------
    def _init_ddp(self) -> None:
        import torch.distributed as dist

        backend = "nccl" if self.device.type == "cuda" else "gloo"
        if self.device.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            self.device = torch.device("cuda", local)
        dist.init_process_group(backend)

    def _wrap(self, module: nn.Module) -> nn.Module:
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, broadcast_buffers=False)

    def _lr_factor(self, step: int) -> float:
        start = self.cfg.decay_from * self.cfg.steps
        if step < start:
            return 1.0
        return max(0.0, 1.0 - (step - start) / max(1.0, self.cfg.steps - start))

    # -- checkpoints ---------------------------------------------------------------------------------
    @property
    def main_process(self) -> bool:
        return self.rank == 0

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(self.gen),
            "config": json.loads(json.dumps(asdict(self.cfg), default=str)),
            "metrics": self.last_metrics,
        }

    def save_checkpoint(self) -> None:
        """Write RUN/last atomically: into last.partial, then swap directories."""
        if not self.main_process:
            return
        out = Path(self.cfg.out)
        partial, last, old = out / "last.partial", out / "last", out / "last.old"
        shutil.rmtree(partial, ignore_errors=True)
        save_state(partial, self.state())
        if last.exists():
            last.rename(old)
        partial.rename(last)
        shutil.rmtree(old, ignore_errors=True)

    def resume(self) -> bool:
        """Restore the latest checkpoint of this run directory; False if there is none."""
        out = Path(self.cfg.out)
        directory = next((d for d in (out / "last", out / "last.old") if (d / "state.json").exists()), None)
        if directory is None:
            return False
        st = load_state(directory)
        try:
            self.G.load_state_dict(st["G"])
            self.D.load_state_dict(st["D"])
            self.opt_g.load_state_dict(st["opt_g"])
            self.opt_d.load_state_dict(st["opt_d"])
            self.sched_g.load_state_dict(st["sched_g"])
            self.sched_d.load_state_dict(st["sched_d"])
            self.scaler.load_state_dict(st["scaler"])
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint in {directory} does not match this model/config: {exc}") from exc
        restore_rng(st["rng"], self.gen)
        self.step = int(st["step"])
        self.last_metrics = dict(st.get("metrics", {}))
        return True

    # -- the loop ------------------------------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None)

    def _optimise(self, loss_fn, optimizer, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """One loss (under autocast), its backward pass and its optimizer step (through the grad scaler)."""
        with self._autocast():
            loss, logs = loss_fn(self.G_train, self.D_train, batch)
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        return loss, logs

    def train_step(self) -> dict[str, float]:
        batch = self.task.sample(self.gen, self.cfg.batch, self.cfg.crop, self.device)
        self.G_train.train()
        self.D_train.train()
        d_loss, d_logs = self._optimise(self.task.d_loss, self.opt_d, batch)
        self.D.requires_grad_(False)
        g_loss, g_logs = self._optimise(self.task.g_loss, self.opt_g, batch)
        self.D.requires_grad_(True)
        self.scaler.update()
        self.sched_g.step()
        self.sched_d.step()
        self.step += 1
        return {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()), **d_logs, **g_logs}

    def validate(self) -> dict[str, float]:
        if not self.main_process:
            return {}
        out = Path(self.cfg.out)
        self.G.eval()
        with torch.no_grad():
            metrics, grid = self.task.validate(self.G, self.device)
        self.last_metrics = {k: float(v) for k, v in metrics.items()}
        from ..video.images import write_image

        (out / "samples").mkdir(parents=True, exist_ok=True)
        write_image(out / "samples" / f"step-{self.step:06d}.png", grid)
        self._append(out / "val.jsonl", {"step": self.step, **self.last_metrics})
        save_model(out / "model.safetensors", self.G, self.task.card(self.G, self.step, self.last_metrics, self.cfg))
        (out / "snapshots").mkdir(exist_ok=True)
        shutil.copyfile(out / "model.safetensors", out / "snapshots" / f"step-{self.step:06d}.safetensors")
        self.log({"event": "val", "step": self.step, **self.last_metrics})
        return self.last_metrics

    def run(self, stop_after: int | None = None) -> dict[str, float]:
        """Train until ``cfg.steps`` (or ``stop_after`` more steps); returns the last validation metrics."""
        out = Path(self.cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        target = self.cfg.steps if stop_after is None else min(self.cfg.steps, self.step + stop_after)
        t0, done_since_log = time.perf_counter(), 0
        deadline = time.monotonic() + self.cfg.time_limit if self.cfg.time_limit > 0 else None
        while self.step < target:
            logs = self.train_step()
            done_since_log += 1
            if self.step % self.cfg.log_every == 0 and self.main_process:
                rate = done_since_log / (time.perf_counter() - t0)
                event = {"step": self.step, "lr": self.sched_g.get_last_lr()[0], "steps_per_s": rate, **logs}
                self._append(out / "train.jsonl", event)
                self.log({"event": "train", **event})
                t0, done_since_log = time.perf_counter(), 0
            if self.step % self.cfg.val_every == 0 or self.step == self.cfg.steps:
                self.validate()
            if self.step % self.cfg.ckpt_every == 0 or self.step == target:
                self.save_checkpoint()
            if deadline is not None and time.monotonic() > deadline and self.step < target:
                self._stop_at_time_limit()
                break
        return self.last_metrics

    def _stop_at_time_limit(self) -> None:
        """End on a validated, checkpointed model; ``--resume`` continues the schedule from here."""
        if self.step % self.cfg.val_every:
            self.validate()
        if self.step % self.cfg.ckpt_every:
            self.save_checkpoint()
        self.log({"event": "time_limit", "step": self.step, "steps": self.cfg.steps})

    @staticmethod
    def _append(path: Path, record: dict) -> None:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
