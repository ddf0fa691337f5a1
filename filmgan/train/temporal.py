"""Temporal fine-tuning: the warp loss and a task wrapper that adds it to any GAN task.

The short-term temporal loss (Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos", GCPR 2016;
Lai et al., "Learning Blind Video Temporal Consistency", ECCV 2018)::

    L_warp = || M * (G(x_t) - W(G(x_{t-1}), f_{t->t-1})) ||_1 / |M|

with W the backward warp along the flow and M the occlusion mask. Training pairs come from synthetic
motion on still photos and from consecutive frames of real clips (:mod:`filmgan.train.motion`; the
synthetic-flow idea is Wang et al., "Consistent Video Style Transfer via Compound Regularization", AAAI
2020). :class:`TemporalTask` wraps a colorize or style task: it delegates data, discriminator loss,
validation and card to the base task and adds ``weight * L_warp`` to the generator loss; it starts from an
existing model (``InitWeights``) and records the fine-tuning in the model card.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..card import ModelCard, read_card
from ..errors import CheckpointError, ConfigError
from .loop import GANTask, TrainConfig
from .motion import ClipPairs, MotionConfig, PairSampler, pixel_grid, sample_at, synthetic_pairs


def warp_torch(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``out(p) = image(p + flow(p))``: the torch twin of :func:`filmgan.temporal.warp.warp`.

    ``image`` (N, C, H, W), ``flow`` (N, 2, H, W) in pixels (x then y), the convention of
    :mod:`filmgan.temporal.flow`: with ``flow = f_{t->t-1}`` it brings frame t-1 onto frame t. Bilinear,
    border replicated (``grid_sample`` with ``align_corners=True``, ``padding_mode='border'``), computed in
    float32 and differentiable in both arguments.
    """
    if flow.ndim != 4 or flow.shape[1] != 2 or image.shape[-2:] != flow.shape[-2:] or image.shape[0] != flow.shape[0]:
        raise ConfigError(f"warp_torch needs image (N, C, H, W) and flow (N, 2, H, W) of one size, got {tuple(image.shape)} and {tuple(flow.shape)}")
    x, y = pixel_grid(*flow.shape[-2:], device=flow.device)
    return sample_at(image, x + flow[:, 0].float(), y + flow[:, 1].float())


def warp_loss(out_t: torch.Tensor, out_prev: torch.Tensor, flow: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean absolute difference between ``out_t`` and ``out_prev`` warped onto frame t.

    ``|| M * (out_t - W(out_prev, flow)) ||_1 / (C * sum M)`` -- the short-term temporal loss of Ruder et al.
    (GCPR 2016) and Lai et al. (ECCV 2018), here with an L1 norm as in Lai et al.; the pairs and their exact
    masks for still photos follow Wang et al. (AAAI 2020). ``flow`` is f_{t->t-1} (pixels), ``mask``
    (N, 1, H, W) is 1 where pixel p of frame t is visible in frame t-1. 0 for a consistent pair; gradients
    reach both outputs. Computed in float32 outside autocast.
    """
    with torch.autocast(out_t.device.type, enabled=False):
        warped = warp_torch(out_prev.float(), flow.float())
        mask = mask.float()
        diff = (out_t.float() - warped).abs() * mask
        return diff.sum() / (mask.sum() * out_t.shape[1]).clamp_min(1.0)


@dataclass
class InitWeights:
    """The model being fine-tuned: its card, generator weights and (from a run directory) discriminator."""

    card: ModelCard
    G: dict[str, torch.Tensor]
    D: dict[str, torch.Tensor] | None
    source: str

    @classmethod
    def load(cls, path: str | Path) -> "InitWeights":
        """A model file (G only; D starts fresh) or a training run directory (G and D of ``RUN/last``)."""
        from safetensors.torch import load_file

        from ..models.checkpoint import load_model

        path = Path(path)
        if path.is_dir():
            from .state import load_state

            card = read_card(path / "model.safetensors")
            last = next((d for d in (path / "last", path / "last.old") if (d / "state.json").exists()), None)
            if last is None:
                raise CheckpointError(f"{path} is not a training run (no last/state.json)")
            state = load_state(last)
            return cls(card, state["G"], state["D"], str(path))
        model, card = load_model(path)
        del model  # load_model checked card, digest and architecture
        return cls(card, load_file(str(path)), None, str(path))

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "name": self.card.name, "sha256": self.card.extra.get("sha256"), "training": ancestor_record(self.card.training)}


def ancestor_record(training: dict[str, Any]) -> dict[str, Any]:
    """A parent model's training record as its fine-tuned child's card keeps it: without the held-out and
    validation file lists (the child's own record has them; the data fingerprint names the split) and the
    lists of clips, at every level of a chain of fine-tunes, so a card does not grow with each fine-tune."""
    out = dict(training)
    if isinstance(out.get("data"), dict):
        out["data"] = _lists_counted(out["data"], ("excluded", "validation"))
    temporal = out.get("temporal")
    if isinstance(temporal, dict):
        temporal = dict(temporal)
        if isinstance(temporal.get("pairs"), dict) and isinstance(temporal["pairs"].get("real"), dict):
            temporal["pairs"] = {**temporal["pairs"], "real": _lists_counted(temporal["pairs"]["real"], ("clips",))}
        parent = temporal.get("fine_tuned_from")
        if isinstance(parent, dict) and isinstance(parent.get("training"), dict):
            temporal["fine_tuned_from"] = {**parent, "training": ancestor_record(parent["training"])}
        out["temporal"] = temporal
    return out


def _lists_counted(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """``record`` with the lists under ``keys`` replaced by their lengths."""
    return {k: len(v) if k in keys and isinstance(v, list) else v for k, v in record.items()}


@dataclass
class TemporalTask:
    """A GAN task plus the temporal warp loss on pairs sampled alongside each batch."""

    base: GANTask
    pairs: PairSampler
    weight: float = 10.0
    pair_batch: int | None = None  # pairs per step (None: the trainer's batch)
    pair_crop: int | None = None  # pair size (None: the trainer's crop)
    init: InitWeights | None = None
    val_pair_count: int = 8
    _val: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not hasattr(self.base, "generator_input"):
            raise ConfigError(f"temporal training supports tasks that declare their generator input (colorize, style); '{self.base.name}' does not")
        if self.weight < 0:
            raise ConfigError(f"the temporal weight must be >= 0, got {self.weight}")
        self.to_input = self.base.generator_input

    @property
    def name(self) -> str:
        return f"{self.base.name}+temporal"

    def build(self) -> tuple[nn.Module, nn.Module]:
        G, D = self.base.build()
        if self.init is None:
            return G, D
        from ..models import registry

        card = self.init.card
        if card.arch != getattr(G, "ARCH", None):
            raise CheckpointError(f"{self.init.source} is a '{card.arch}' model; the {self.base.name} task trains '{G.ARCH}'")
        G = registry.build(card.arch, card.args)
        _load(G, self.init.G, f"{self.init.source} (generator)")
        if self.init.D is not None:
            _load(D, self.init.D, f"{self.init.source} (discriminator; train with the options of that run)")
        return G, D

    def optimizer_groups(self, G: nn.Module, lr: float):
        """The base task's parameter groups (e.g. a pretrained encoder at a lower rate), else all of G."""
        groups = getattr(self.base, "optimizer_groups", None)
        return groups(G, lr) if groups else G.parameters()

    def sample(self, gen: torch.Generator, batch: int, crop: int, device: torch.device) -> dict[str, torch.Tensor]:
        data = self.base.sample(gen, batch, crop, device)
        pairs = self.pairs.sample(gen, self.pair_batch or batch, self.pair_crop or crop, device)
        data.update({"t_prev": self.to_input(pairs["prev"]), "t_cur": self.to_input(pairs["cur"]), "t_flow": pairs["flow"], "t_mask": pairs["mask"]})
        return data

    def d_loss(self, G, D, batch):
        return self.base.d_loss(G, D, batch)

    def g_loss(self, G, D, batch):
        loss, logs = self.base.g_loss(G, D, batch)
        # One forward over both frames of every pair. Under DDP it runs on the inner module: a second DDP
        # forward before one backward confuses the reducer, while the gradients of both forwards still meet
        # in each parameter's single accumulation (and its all-reduce hook). Only single-process is tested.
        net = getattr(G, "module", G)
        out_prev, out_cur = net(torch.cat([batch["t_prev"], batch["t_cur"]])).chunk(2)
        warp = warp_loss(out_cur, out_prev, batch["t_flow"], batch["t_mask"])
        return loss + self.weight * warp, {**logs, "warp": float(warp.detach())}

    def validate(self, G, device):
        metrics, grid = self.base.validate(G, device)
        val = self._val_pairs(device)
        if val is not None:
            out_prev, out_cur = G(torch.cat([val["prev"], val["cur"]])).chunk(2)
            metrics["warp"] = float(warp_loss(out_cur, out_prev, val["flow"], val["mask"]))
        return metrics, grid

    def card(self, G, step: int, metrics: dict[str, float], config: TrainConfig) -> ModelCard:
        card = self.base.card(G, step, metrics, config)
        temporal = {
            "loss": "L1 warp loss, occlusion-masked (Ruder et al. 2016; Lai et al. 2018; Wang et al. 2020)",
            "weight": self.weight,
            "pair_batch": self.pair_batch or config.batch,
            "pair_crop": self.pair_crop or config.crop,
            "pairs": self.pairs.describe(),
            "fine_tuned_from": self.init.describe() if self.init else None,
        }
        return card.with_updates(training={**card.training, "temporal": temporal})

    def _val_pairs(self, device) -> dict[str, torch.Tensor] | None:
        """Fixed synthetic pairs (seeded, no photometric noise) from the base task's validation images."""
        if self._val is None:
            images = list(getattr(self.base, "val_images", []))[: self.val_pair_count]
            if not images:
                return None
            side = min(min(img.shape[:2]) for img in images)
            crop = max(16, min(128, side - 2 * self.pairs.motion.margin(min(128, side)))) // 8 * 8
            canvas = np.stack([_centre_square(img, side) for img in images])
            canvas_t = torch.from_numpy(canvas).permute(0, 3, 1, 2).float().div_(255.0)
            pairs = synthetic_pairs(canvas_t, torch.Generator().manual_seed(1234), crop, self.pairs.motion.without_noise())
            self._val = {"prev": self.to_input(pairs["prev"]), "cur": self.to_input(pairs["cur"]), "flow": pairs["flow"], "mask": pairs["mask"]}
        return {k: v.to(device) for k, v in self._val.items()}


def _centre_square(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return img[y : y + side, x : x + side]


def _load(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    own = module.state_dict()
    try:
        module.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()})
    except RuntimeError as exc:
        raise CheckpointError(f"{what} does not fit the model being trained: {str(exc).splitlines()[0]}") from exc


# -- building a temporal task from a model file ---------------------------------------------------------


def base_task_class(card: ModelCard) -> type:
    """The training task that made the model of ``card``."""
    if card.task == "colorize":
        from .colorize import ColorizeTask
        from .colorize_semantic import SemanticColorizeTask

        return SemanticColorizeTask if card.arch == "mobilenet-unet-colorizer" else ColorizeTask
    if card.task == "style":
        from .paint import PaintTask
        from .stylize import StyleTask

        return PaintTask if card.training.get("recipe") == "paint" else StyleTask
    raise ConfigError(f"temporal fine-tuning supports colorize and style models, not '{card.task}'")


def base_task_options(card: ModelCard) -> dict[str, Any]:
    """Loss settings of the original training, read back from the card by the task that wrote it."""
    return base_task_class(card).options_from_card(card)


def build_temporal_task(
    init: str | Path,
    data: list[str],
    val: list[str] = (),
    exclude: list[str] = (),
    videos: list[str] = (),
    task: str | None = None,
    style: str | Path | None = None,
    weight: float = 10.0,
    real_fraction: float = 0.25,
    motion: MotionConfig = MotionConfig(),
    clip_size: int = 256,
    pairs_per_clip: int = 48,
    pair_batch: int | None = None,
    load_size: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> TemporalTask:
    """The base task rebuilt from the init model's card (architecture, loss settings), wrapped for temporal
    fine-tuning. ``overrides`` replace base-task options read from the card (e.g. ``gan_mode``)."""
    weights = InitWeights.load(init)
    card = weights.card
    if task is not None and task != card.task:
        raise ConfigError(f"{init} is a '{card.task}' model, not '{task}'")
    options = {**base_task_options(card), **(overrides or {})}
    for key, what in (("colour_weight", "colourfulness weight"), ("perceptual_weight", "perceptual weight")):
        if card.task != "colorize" and key in options:
            raise ConfigError(f"the {what} applies to colorize models; '{card.name}' is a '{card.task}' model")
    for key in ("texture_weight", "edge_weight"):
        if key in (overrides or {}) and key not in {f.name for f in fields(base_task_class(card))}:
            raise ConfigError(f"the {key.replace('_', ' ')} applies to paint-recipe style models; '{card.name}' is not one")
    if card.task == "colorize":
        from .colorize import build_colorize_task

        task_class = base_task_class(card)
        base = build_colorize_task(
            list(data), list(val), list(exclude), internal_size=card.internal_size or 256, load_size=load_size or 288,
            task_class=task_class, **architecture_options(card, task_class), **options,
        )
    else:
        base = _style_base(card, style, data, val, exclude, load_size, options)
    clips = ClipPairs.load(videos, load_size=clip_size, pairs_per_clip=pairs_per_clip) if videos else None
    pairs = PairSampler(base.bank, clips, motion, real_fraction if clips else 0.0)
    return TemporalTask(base, pairs, weight=weight, pair_batch=pair_batch, init=weights)


def _style_base(card, style, data, val, exclude, load_size, options):
    from .stylize import build_style_task, file_digest

    info = card.extra.get("style", {})
    if style is None:
        raise ConfigError(f"fine-tuning the style model '{card.name}' needs its painting: pass --style PATH (it was trained on '{info.get('painting', '?')}')")
    if info.get("sha256") and file_digest(Path(style)) != info["sha256"]:
        raise ConfigError(f"{style} is not the painting '{info.get('painting')}' that '{card.name}' was trained on (sha256 differs)")
    task_class = base_task_class(card)
    credits = {k: info[k] for k in ("painter", "title", "year") if k in info}
    size = card.internal_size or 360
    return build_style_task(
        style, list(data), list(val), list(exclude), internal_size=size, load_size=load_size or size, credits=credits,
        task_class=task_class, **architecture_options(card, task_class), **options,
    )


def architecture_options(card: ModelCard, task_cls: type) -> dict[str, Any]:
    """The generator arguments of ``card`` that ``task_cls`` takes as fields (lists back to tuples), so the
    rebuilt task builds the same network; arguments the task fixes itself (channel counts) are left out."""
    names = {f.name for f in fields(task_cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in card.args.items() if k in names}
