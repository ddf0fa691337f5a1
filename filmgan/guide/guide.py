"""What the colorize task asks of the guidance: the network's conditioning per frame, and a correction of
the chroma.

:class:`ColourGuide` bundles reference palettes, a keyframe track and local hints for one render. Before
the network the processor asks for its conditioning: for a colorizer trained with guidance inputs
(``engine.palette_bands > 0``) :meth:`ColourGuide.network_inputs` -- the palette histogram and the
rasterised hints --, else :meth:`ColourGuide.log_priors`, a prior on the decode of an automatic
semantic colorizer. Right after the network, :meth:`ColourGuide.with_references` puts the reference photos'
colours where the frame shows their content (:mod:`.exemplar`). Then :meth:`ColourGuide.apply` corrects each frame's chroma at the render size
(keyframe chroma carried along the flow, the hints' remaining error spread), before temporal blending.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import ConfigError
from ..video.color import AB_SCALE
from .exemplar import Exemplar, FeatureFn, frame_grid
from .hints import HintSet, rasterise
from .keyframes import KeyframeTrack
from .propagate import SpreadConfig, spread
from .reference import Palette


# How a guided network is fed, chosen on the validation split and clips with the guided network trained from
# colorize-v5 (README, "Guided colorization"; not shipped): the keyframes' carried chroma as dense hints where
# its confidence is at least 0.5 (34.4 % against 33.5 % below automatic over frames 1-48 without), and a
# colourist's sparse hints not given to the network, only spread after it (32 % against 31 % below automatic
# with 10 points).
KEYFRAME_HINTS = 0.5
NETWORK_HINTS = False


class ColourGuide:
    """Reference ``palette`` and ``exemplar`` (the same photos: their colour distribution and their colours
    by content), keyframe ``track`` and ``hints`` (each optional) for one render."""

    def __init__(self, palette: Palette | None = None, track: KeyframeTrack | None = None, hints: HintSet | None = None,
                 spread_config: SpreadConfig | None = None, keyframe_hints: float | None = KEYFRAME_HINTS,
                 network_hints: bool = NETWORK_HINTS, exemplar: Exemplar | None = None):
        self.palette = palette
        self.exemplar = exemplar
        self.track = track
        self.hints = hints
        self.spread_config = spread_config or SpreadConfig()
        # A guided network also takes the keyframes' carried chroma as dense hints where its confidence is
        # at least this (None: only their palette), so that it fills the unsure rest consistently.
        self.keyframe_hints = keyframe_hints
        self.network_hints = network_hints  # False: a guided network gets no hints, they are only spread after it

    @property
    def has_exemplars(self) -> bool:
        """Whether reference photos or keyframes lend colours by content (needs ``engine.match_features``)."""
        return self.exemplar is not None or self.track is not None

    @property
    def needs_prior(self) -> bool:
        return self.palette is not None or self.track is not None

    def _palette(self, index: int) -> Palette | None:
        found = [p for p in (self.palette, self.track.palette(index) if self.track else None) if p is not None]
        if len(found) < 2:
            return found[0] if found else None
        return Palette(np.mean([p.hist for p in found], axis=0), found[0].config)  # references and keyframes alike

    def log_priors(self, indices: Sequence[int]) -> np.ndarray | None:
        """The engine's ``log_prior`` for frames ``indices`` (a zero prior for frames without one), or None."""
        priors = [p.log_prior() if p is not None else None for p in map(self._palette, indices)]
        known = [p for p in priors if p is not None]
        if not known:
            return None
        return np.concatenate([p if p is not None else np.zeros_like(known[0]) for p in priors])

    def network_inputs(self, indices: Sequence[int], source_size: tuple[int, int], render_size: tuple[int, int],
                       palette_bands: int) -> dict[str, np.ndarray]:
        """A guided network's inputs for frames ``indices``: ``palette`` (N, Q, K) histograms (a zero row
        for a frame without one) and ``hints`` (N, 3, h, w) = (a·m, b·m, m) normalised, at ``render_size``
        = (w, h) for frames of ``source_size`` = (W, H); only the ones this guide has."""
        out: dict[str, np.ndarray] = {}
        palettes = [self._palette(i) for i in indices]
        known = [p for p in palettes if p is not None]
        if known:
            if known[0].hist.shape[1] != palette_bands:
                raise ConfigError(f"the colorizer takes palettes of {palette_bands} lightness bands, this guide's have {known[0].hist.shape[1]}")
            out["palette"] = np.stack([p.hist if p is not None else np.zeros_like(known[0].hist) for p in palettes]).astype(np.float32)
        carry = self.track is not None and self.keyframe_hints is not None
        user_hints = self.hints if self.network_hints else None
        if user_hints or carry:
            w, h = render_size
            maps = np.zeros((len(indices), 3, h, w), np.float32)
            for row, index in enumerate(indices):
                carried = self.track.read(index) if carry else None
                if carried is not None and carried[0].shape[:2] == (h, w):
                    mask = (carried[1] >= self.keyframe_hints).astype(np.float32)
                    maps[row, :2] = carried[0].transpose(2, 0, 1) / AB_SCALE * mask
                    maps[row, 2] = mask
                hints = user_hints.for_frame(index) if user_hints else ()
                if hints:  # a colourist's hints paint over the carried chroma
                    ab, mask = rasterise(hints, source_size, render_size, user_hints.relative)
                    keep = 1.0 - mask
                    maps[row, :2] = maps[row, :2] * keep + ab.transpose(2, 0, 1) / AB_SCALE * mask
                    maps[row, 2] = np.maximum(maps[row, 2], mask)
            if maps[:, 2].any():
                out["hints"] = maps
        return out

    def with_references(self, x: np.ndarray, ab: np.ndarray, indices: Sequence[int], features_of: FeatureFn | None) -> np.ndarray:
        """The network's chroma ``ab`` (N, 2, h, w; Lab units) of frames ``indices`` whose input is ``x``, with
        the colours of the reference photos, then of the shot's keyframes, where the frame shows their
        content (the keyframes' win where both match); unchanged without exemplars or without an engine
        that gives encoder features (``features_of`` None)."""
        per_frame = [[e for e in (self.exemplar, self.track.exemplar(i) if self.track is not None else None) if e is not None]
                     for i in indices]
        found = [e for row in per_frame for e in row]
        if not found or features_of is None:
            return ab
        grid = frame_grid(x, features_of, found[0].config)
        out = np.array(ab, np.float32)
        for row, exemplars in enumerate(per_frame):
            for exemplar in exemplars:
                ref_ab, weight = exemplar.transfer(grid[row], x.shape[2:], features_of)
                out[row] = weight[None] * ref_ab.transpose(2, 0, 1) + (1.0 - weight[None]) * out[row]
        return out

    def apply(self, index: int, source_size: tuple[int, int], lightness: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """Frame ``index``'s chroma (h, w, 2) at the render size after keyframes and hints; ``lightness`` is
        its L (h, w), ``source_size`` the frame's (W, H)."""
        carried = self.track.read(index) if self.track is not None else None
        if carried is not None:
            ab_key, conf = carried
            ab = conf[..., None] * ab_key + (1.0 - conf[..., None]) * ab
        hints = self.hints.for_frame(index) if self.hints else ()
        if hints:
            h, w = lightness.shape
            hint_ab, mask = rasterise(hints, source_size, (w, h), self.hints.relative)
            ab = ab + spread(lightness, (hint_ab - ab) * mask[..., None], mask, self.spread_config)
        return np.ascontiguousarray(ab, np.float32)

    def close(self) -> None:
        if self.track is not None:
            self.track.close()
