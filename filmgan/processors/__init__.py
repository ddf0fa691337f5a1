"""Task processors: numpy pre/post-processing around an engine, as pipeline FrameProcessors (no torch)."""
