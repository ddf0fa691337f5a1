"""Engines: ONNX export (torch, at build time only), the engine cache and its cards, int8 quantisation,
TensorRT plan building and verification.

    onnx.py       safetensors model -> ONNX (dynamic N/H/W, BatchNorm folded, card in metadata, parity)  [torch]
    onnxmeta.py   read an ONNX file's metadata_props without onnx or torch
    cache.py      engine directory, cache keys (model digest + backend version + device + precision + profile), cards
    build.py      build / find / verify engines for a model (what ``filmgan engine`` and ``load_engine`` call)
    quantize.py   int8 static QDQ quantisation with ONNX Runtime, calibrated on fixed photos
    tensorrt.py   TensorRT plan builder (FP16 with normalisation pinned to fp32, profiles, timing cache)
    verify.py     engines against the torch reference on fixed inputs (max abs error, PSNR, the bars)

Only ``onnx.py`` imports torch; a render node without torch uses cached or shipped engines.
"""
