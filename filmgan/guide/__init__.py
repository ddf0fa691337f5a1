"""Guided colorization: a colourist steers the colorizer with reference palettes (:mod:`.reference`),
coloured keyframes carried through the shot (:mod:`.keyframes`) and local hints (:mod:`.hints`, spread by
:mod:`.propagate`); :mod:`.guide` is what the colorize task calls, :mod:`.build` makes it from files.

numpy, OpenCV and (for hints) scipy; no torch. Conditioning the network on a palette needs an engine with
``prior_bins`` (the semantic colorizer on the torch backend).
"""

from .build import GuideSpec, build_guide
from .guide import ColourGuide

__all__ = ["ColourGuide", "GuideSpec", "build_guide"]
