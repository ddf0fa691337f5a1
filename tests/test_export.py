"""ONNX export: dynamic N/H/W, BatchNorm folded, card + digest in the metadata, parity with torch at two
sizes, for the three generator architectures (tiny U-Net with BatchNorm, StyleNet, the MobileNetV2 semantic
colorizer with TF-SAME padding)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from filmgan.card import ModelCard  # noqa: E402
from filmgan.errors import CheckpointError  # noqa: E402
from filmgan.export.onnx import export_onnx, fold_batchnorm, sample_input  # noqa: E402
from filmgan.export.onnxmeta import META_CARD, META_MODEL_SHA, card_from_metadata, read_onnx_metadata  # noqa: E402
from filmgan.models import registry  # noqa: E402
from filmgan.models.checkpoint import save_model  # noqa: E402


def save(tmp_path, name, arch, args, color_space, seed=0):
    torch.manual_seed(seed)
    model = registry.build(arch, args).eval()
    for m in model.modules():  # non-trivial BatchNorm statistics, so folding is really tested
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    task = "colorize" if color_space == "lab" else "style"
    path = tmp_path / f"{name}.safetensors"
    save_model(path, model, ModelCard(name=name, task=task, arch=arch, args=args, color_space=color_space, io={}, internal_size=64))
    return path, model


def run_onnx(data, x):
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def test_fold_batchnorm_keeps_the_function():
    model = registry.build("unet-colorizer", {"widths": [4, 8, 8], "norm": "batch"}).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
    x = torch.rand(1, 1, 32, 48) * 2 - 1
    norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    with torch.no_grad():
        before = model(x)
        assert norms > 0 and fold_batchnorm(model) == norms
        after = model(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert torch.allclose(before, after, atol=1e-5)


@pytest.mark.parametrize("arch, args, space", [
    ("unet-colorizer", {"widths": [4, 8, 16], "norm": "batch", "global_context": True}, "lab"),
    ("stylenet", {"widths": [4, 8, 8], "blocks": 1, "stem_kernel": 5, "norm": "instance"}, "rgb"),
    ("mobilenet-unet-colorizer", {}, "lab"),
])
def test_export_is_dynamic_folded_carded_and_matches_torch(tmp_path, arch, args, space):
    path, model = save(tmp_path, "m", arch, args, space)
    data, card, parity = export_onnx(path)
    proto = onnx.load_from_string(data)
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "batch" and dims[2:] == ["height", "width"]
    align = card.extra["input_spec"]["alignment"]
    assert align == {"unet-colorizer": 16, "stylenet": 8, "mobilenet-unet-colorizer": 32}[arch]
    # parity at two sizes (other than the trace size), recorded in the report
    assert len(parity) == 2 and all(r["max_abs"] <= 1e-3 and r["psnr"] >= 50 for r in parity.values())
    # and at a third size, batch 3, here
    x = sample_input(card, 3, align * 5, align * 3, seed=9)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(run_onnx(data, x), expected, atol=1e-3)
    # the card and the model digest travel in the metadata, readable without onnx
    onnx_path = tmp_path / "m.onnx"
    onnx_path.write_bytes(data)
    meta = read_onnx_metadata(onnx_path)
    assert meta == {p.key: p.value for p in proto.metadata_props}
    assert meta[META_MODEL_SHA] == card.extra["sha256"]
    back = card_from_metadata(meta, "m.onnx")
    assert back.arch == arch and back.extra["input_spec"]["alignment"] == align


def test_metadata_card_is_checked_against_its_digest(tmp_path):
    path, _ = save(tmp_path, "m", "stylenet", {"widths": [4, 8, 8], "blocks": 1, "stem_kernel": 3}, "rgb")
    data, _, _ = export_onnx(path, check=False)
    meta = read_onnx_metadata_bytes(tmp_path, data)
    meta[META_CARD] = meta[META_CARD].replace('"stylenet"', '"unet-colorizer"')
    with pytest.raises(CheckpointError, match="digest"):
        card_from_metadata(meta, "x.onnx")
    with pytest.raises(CheckpointError, match="not a readable ONNX"):
        bad = tmp_path / "bad.onnx"
        bad.write_bytes(b"\xff" * 64)
        read_onnx_metadata(bad)


def read_onnx_metadata_bytes(tmp_path, data):
    p = tmp_path / "x.onnx"
    p.write_bytes(data)
    return read_onnx_metadata(p)


def test_shipped_onnx_stores_fp16_weights_that_compute_bit_identical_fp32(tmp_path):
    """The shipped ONNX keeps its weights as fp16 + Cast (half the file); the quantiser's fp32 form of it
    (restore_float) runs to the same outputs bit for bit, and the store is exact (no weight changes)."""
    from onnx import numpy_helper

    from filmgan.export.build import SHIPPED_DIR
    from filmgan.export.onnx import HALF_SUFFIX, restore_float, store_half

    path = SHIPPED_DIR / "style-the-scream.onnx"
    if not path.is_file():
        pytest.skip(f"{path} not shipped in this checkout")
    proto = onnx.load(str(path))
    halves = [i for i in proto.graph.initializer if i.name.endswith(HALF_SUFFIX)]
    assert len(halves) >= 30 and all(i.data_type == onnx.TensorProto.FLOAT16 for i in halves)
    weight_bytes = sum(2 * int(np.prod(i.dims)) for i in halves)
    assert path.stat().st_size < 1.5 * weight_bytes  # weights + graph + card; fp32 storage would be over 2x
    restored = onnx.load(str(path))
    assert restore_float(restored) == len(halves)
    assert not any(i.name.endswith(HALF_SUFFIX) for i in restored.graph.initializer)
    assert not any(n.op_type == "Cast" and n.name.endswith("/restore_fp32") for n in restored.graph.node)
    x = sample_input(card_from_metadata(read_onnx_metadata(path), str(path)), 1, 64, 96, seed=5)
    a, b = run_onnx(proto.SerializeToString(), x), run_onnx(restored.SerializeToString(), x)
    assert np.array_equal(a, b)
    again = onnx.load_from_string(restored.SerializeToString())  # storing again gives the same tensors
    assert store_half(again) == len(halves)
    original = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    assert all(np.array_equal(numpy_helper.to_array(i), original[i.name]) for i in again.graph.initializer)


def test_store_half_keeps_float32_where_fp16_would_round():
    """Only tensors that fp16 holds exactly are stored as fp16 (BatchNorm folding makes values that are not);
    the graph's outputs do not change by a bit."""
    from onnx import helper, numpy_helper

    from filmgan.export.onnx import HALF_SUFFIX, restore_float, store_half

    exact = np.linspace(-2, 2, 32, dtype=np.float16).astype(np.float32).reshape(1, 32)
    inexact = (exact + np.float32(1e-4)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("Add", ["x", "w_exact"], ["t"]), helper.make_node("Mul", ["t", "w_inexact"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 32])],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 32])],
                              [numpy_helper.from_array(exact, "w_exact"), numpy_helper.from_array(inexact, "w_inexact")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).normal(size=(1, 32)).astype(np.float32)
    before = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert store_half(proto) == 1
    assert sorted(i.name for i in proto.graph.initializer) == ["w_exact" + HALF_SUFFIX, "w_inexact"]
    onnx.checker.check_model(proto)
    after = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert np.array_equal(before, after)
    assert restore_float(proto) == 1 and sorted(i.name for i in proto.graph.initializer) == ["w_exact", "w_inexact"]
