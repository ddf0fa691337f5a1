"""Weight averaging of snapshots of one training run (stochastic weight averaging).

A GAN generator's weights oscillate from step to step; the uniform average of several snapshots of one run
lies nearer the centre of the basin they share and generalizes better than any one of them (Izmailov et al.,
"Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018; Yazici et al., "The Unusual
Effectiveness of Averaging in GAN Training", ICLR 2019). Only snapshots of the same architecture can be
averaged, and only snapshots of one run (or of fine-tunes of one model) make sense to: independently
initialized networks do not share a basin.

BatchNorm running statistics are averaged like the weights; re-estimating them on training data instead
was measured on the shipped colorizer and scored worse on validation (see README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..card import ModelCard
from ..errors import CheckpointError
from ..models.checkpoint import load_model

METHOD = "uniform weight average (SWA: Izmailov et al. 2018; Yazici et al. 2019)"


def average_models(paths: Sequence[str | Path], name: str | None = None) -> tuple[nn.Module, ModelCard]:
    """The uniform average of the model files ``paths`` and its card (the first file's, recording the sources)."""
    if len(paths) < 2:
        raise CheckpointError("averaging needs at least two model files")
    loaded = [load_model(p) for p in paths]
    model, card = loaded[0]
    for path, (_, other) in zip(paths[1:], loaded[1:]):
        if (other.arch, other.args, other.task, other.color_space) != (card.arch, card.args, card.task, card.color_space):
            raise CheckpointError(f"{path} is a {other.task} '{other.arch}' model with other arguments than {paths[0]}: only snapshots of one architecture can be averaged")
    states = [m.state_dict() for m, _ in loaded]
    average = {
        key: torch.stack([s[key].float() for s in states]).mean(0).to(value.dtype) if value.is_floating_point() else value
        for key, value in states[0].items()
    }
    model.load_state_dict(average)
    sources = [
        {"file": Path(p).name, "sha256": c.extra.get("sha256"), "steps": c.training.get("steps")} for p, (_, c) in zip(paths, loaded)
    ]
    training = {**card.training, "averaged": {"method": METHOD, "sources": sources}}
    return model.eval(), card.with_updates(name=name or card.name, training=training)


__all__ = ["average_models", "METHOD"]
