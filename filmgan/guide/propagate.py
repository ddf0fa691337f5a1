"""Edge-aware spreading of sparse colour hints over a grey image: a screened version of Levin, Lischinski &
Weiss, "Colorization using Optimization" (SIGGRAPH 2004).

What is spread is the *correction* ``d = hint_ab - network_ab`` at the hinted pixels, not the colour, so away
from the hints the network's own detail is kept. The correction ``r`` minimises::

    sum_hinted pin * (r_p - d_p)^2  +  sum_neighbours w_pq (r_p - r_q)^2  +  screen * sum_p r_p^2
    w_pq = exp(-(L_p - L_q)^2 / (2 sigma^2))

a sparse linear solve ``(P + Lap_w + screen I) r = P d``. The affinity stops a hint at lightness edges (as in
Levin et al.); the screening term makes its influence fall off with the (edge-aware) distance, over about
``sqrt(1 / screen)`` pixels of uniform region. The default (screen 1e-5: ~300 px, more than the colorize
preset's 192 px render) was chosen on the validation split (``scripts/eval_guided.py --part hints --split
validation``; README "Guided colorization"): a few hints' corrections help far from them too, so a hint
now reaches over most of a uniform render, weakened at each lightness edge it crosses, and the screening
mainly keeps the system well posed. scipy's sparse LU (extra ``guide``) solves the render-size system (64k
pixels) in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError, require


@dataclass(frozen=True)
class SpreadConfig:
    """``sigma``: lightness difference (L units) at which neighbours decouple; ``screen``: the pull back to
    no correction (smaller reaches further: about ``sqrt(1 / screen)`` px); ``pin``: weight of the hinted
    values (large: hard hints). Defaults chosen on the validation split (module docstring)."""

    sigma: float = 4.0
    screen: float = 1e-5
    pin: float = 100.0

    def __post_init__(self) -> None:
        if self.sigma <= 0 or self.screen <= 0 or self.pin <= 0:
            raise ConfigError(f"hint spreading needs sigma, screen and pin > 0, got {self}")


def _affinity_laplacian(lightness: np.ndarray, sigma: float):
    """The weighted 4-neighbour graph Laplacian of an (h, w) lightness image (scipy CSR)."""
    sparse = require("scipy.sparse", "guide")
    h, w = lightness.shape
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, wts = [], [], []
    for a, b, la, lb in ((idx[:, :-1], idx[:, 1:], lightness[:, :-1], lightness[:, 1:]),
                         (idx[:-1, :], idx[1:, :], lightness[:-1, :], lightness[1:, :])):
        wt = np.exp(-((la - lb) ** 2) / (2.0 * sigma * sigma)).ravel()
        rows += [a.ravel(), b.ravel()]
        cols += [b.ravel(), a.ravel()]
        wts += [wt, wt]
    adj = sparse.csr_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w))
    return sparse.diags(np.asarray(adj.sum(axis=1)).ravel()) - adj


def spread(lightness: np.ndarray, values: np.ndarray, mask: np.ndarray, config: SpreadConfig | None = None) -> np.ndarray:
    """Spread ``values`` (h, w, C) known where ``mask`` (h, w) > 0 over the image, edge-aware on
    ``lightness`` (h, w, L units), decaying to 0 away from the hints. Returns (h, w, C) float32."""
    if lightness.shape != mask.shape or values.shape[:2] != mask.shape or values.ndim != 3:
        raise InputError(f"spread: lightness {lightness.shape}, values {values.shape} and mask {mask.shape} must share (h, w)")
    if not mask.any():
        return np.zeros(values.shape, np.float32)
    sparse = require("scipy.sparse", "guide")
    linalg = require("scipy.sparse.linalg", "guide")
    config = config or SpreadConfig()
    h, w = mask.shape
    pin = config.pin * mask.astype(np.float64).ravel()
    system = _affinity_laplacian(lightness.astype(np.float64), config.sigma) + sparse.diags(pin + config.screen)
    lu = linalg.splu(system.tocsc())
    flat = values.reshape(h * w, -1).astype(np.float64)
    out = np.stack([lu.solve(pin * flat[:, c]) for c in range(flat.shape[1])], axis=1)
    return out.reshape(values.shape).astype(np.float32)
