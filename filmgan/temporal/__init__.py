"""Temporal consistency at inference: optical flow, warping, scene cuts and flow-guided blending.

numpy + OpenCV only (no torch), so a render node without torch can blend. Flow convention: see
:mod:`filmgan.temporal.flow` -- ``warp(out_{t-1}, compute_flow(x_t, x_{t-1}))`` aligns frame t-1 to
frame t. ``warp`` is imported from :mod:`filmgan.temporal.warp` (not re-exported here, so the submodules
``flow`` and ``warp`` stay reachable as attributes of this package).
"""

from .blend import FlowBlender, TemporalProcessor, blend_chroma, blend_rgb
from .flow import (
    PRESETS,
    FlowEstimator,
    compute_flow,
    flat_mask,
    inconsistent_mask,
    motion_boundary_mask,
    occlusion_mask,
    out_of_frame,
    resize_flow,
)
from .scenecut import SceneCutDetector, cut_score

__all__ = [
    "PRESETS",
    "FlowBlender",
    "FlowEstimator",
    "SceneCutDetector",
    "TemporalProcessor",
    "blend_chroma",
    "blend_rgb",
    "cut_score",
    "compute_flow",
    "flat_mask",
    "inconsistent_mask",
    "motion_boundary_mask",
    "occlusion_mask",
    "out_of_frame",
    "resize_flow",
]
