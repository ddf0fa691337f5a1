"""Guided colorization: a colourist steers the colorizer with reference photos (their palette,
:mod:`.reference`, and their colours where the frame shows the same content, :mod:`.exemplar`),
coloured keyframes carried through the shot (:mod:`.keyframes`) and local hints (:mod:`.hints`, spread by
:mod:`.propagate`); :mod:`.guide` is what the colorize task calls, :mod:`.build` makes it from files.

numpy, OpenCV and (for hints) scipy; no torch. A colorizer trained with guidance inputs takes the palette
and the hints itself, on every backend (``engine.palette_bands > 0``); an automatic semantic colorizer is
conditioned by a prior on its decode instead, on the torch backend (``engine.prior_bins``). Exemplars need
the encoder's features (``engine.match_features``: the torch backend).
"""

from .build import GuideSpec, build_guide
from .guide import ColourGuide

__all__ = ["ColourGuide", "GuideSpec", "build_guide"]
