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
    """The uniform average of the model files ``paths`` and its card: the first file's, with the training
    record of the latest snapshot (most steps) and the list of sources."""
    if len(paths) < 2:
        raise CheckpointError("averaging needs at least two model files")
    model, card = load_model(paths[0])
    state = model.state_dict()
    total = {key: value.double() for key, value in state.items() if value.is_floating_point()}  # a running sum: one file in memory at a time
    sources = [_source(paths[0], card)]
    latest = card
    for path in paths[1:]:
        other_model, other = load_model(path)
        if (other.arch, other.args, other.task, other.color_space) != (card.arch, card.args, card.task, card.color_space):
            raise CheckpointError(f"{path} is a {other.task} '{other.arch}' model with other arguments than {paths[0]}: only snapshots of one architecture can be averaged")
        for key, value in other_model.state_dict().items():
            if key in total:
                total[key] += value.double()
        sources.append(_source(path, other))
        if other.training.get("steps", 0) > latest.training.get("steps", 0):
            latest = other
    model.load_state_dict({key: (total[key] / len(paths)).to(value.dtype) if key in total else value for key, value in state.items()})
    training = {**latest.training, "averaged": {"method": METHOD, "sources": sources}}
    return model.eval(), card.with_updates(name=name or card.name, training=training)


def _source(path: str | Path, card: ModelCard) -> dict:
    return {"file": Path(path).name, "sha256": card.extra.get("sha256"), "steps": card.training.get("steps")}


__all__ = ["average_models", "METHOD"]
