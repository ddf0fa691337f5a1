"""filmgan: colorize black-and-white footage and restyle video after paintings.

The core (``filmgan.video``, ``filmgan.pipeline``, ``filmgan.temporal``) needs only numpy, PyAV and
OpenCV; torch is imported lazily by the model and training code only.
"""

__version__ = "0.1.0"
