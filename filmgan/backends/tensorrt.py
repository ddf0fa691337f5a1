"""The TensorRT backend: runs a cached plan (``filmgan engine build --backend tensorrt``) on a CUDA GPU.

``execute_async_v3`` with tensor addresses on CUDA streams, pinned host buffers, and two slots (context,
stream, device and pinned buffers each) so that one frame batch's copies overlap the other's compute:
``submit(x)`` enqueues copy-in, inference and copy-out and returns at once; ``collect(slot)`` waits for it.
``run`` is ``collect(submit(x))``. The plan's card is checked against this GPU and TensorRT version before
the plan is deserialised (exit code 4 with the rebuild command). Needs tensorrt and cuda-python
(``pip install 'filmgan[trt]'``); tests marked ``trt`` run it where both and a GPU exist.
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..errors import InputError, require
from .base import EngineBase, InputSpec


class TensorRTEngine(EngineBase):
    """The TensorRT backend of the :class:`~filmgan.backends.base.Engine` protocol."""

    name = "tensorrt"
    SLOTS = 2

    def __init__(self, record, device: str = "auto"):
        from ..export import cache
        from ..export.tensorrt import check_cuda, cudart, gpu_descriptor

        trt = require("tensorrt", "trt")
        self._rt, self._check = cudart(), check_cuda
        rebuild = f"filmgan engine build --model {record.card.get('source', 'MODEL')} --backend tensorrt --precision {record.card['precision']}"
        cache.check_device(record, gpu_descriptor(), trt.__version__, rebuild)  # before deserialising
        self.card = record.model_card
        self.input_spec = InputSpec.from_card(self.card)
        self.precision = record.card["precision"]
        self.device = "cuda"
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(record.path.read_bytes())
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self._in = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self._out = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self._slots = [self._new_slot() for _ in range(self.SLOTS)]
        self._next = 0

    def _new_slot(self) -> dict:
        return {"context": self.engine.create_execution_context(), "stream": self._check(self._rt.cudaStreamCreate()), "bytes": 0, "pending": None}

    def _ensure(self, slot: dict, in_bytes: int, out_bytes: int) -> None:
        """(Re)allocate a slot's device and pinned host buffers when a larger input arrives."""
        if slot["bytes"] >= max(in_bytes, out_bytes):
            return
        self._free(slot)
        size = max(in_bytes, out_bytes)
        slot.update(bytes=size, d_in=self._check(self._rt.cudaMalloc(size)), d_out=self._check(self._rt.cudaMalloc(size)),
                    h_in=self._check(self._rt.cudaMallocHost(size)), h_out=self._check(self._rt.cudaMallocHost(size)))

    def _free(self, slot: dict) -> None:
        for k in ("d_in", "d_out"):
            if slot.get(k):
                self._rt.cudaFree(slot.pop(k))
        for k in ("h_in", "h_out"):
            if slot.get(k):
                self._rt.cudaFreeHost(slot.pop(k))
        slot["bytes"] = 0

    @staticmethod
    def _host_view(ptr: int, shape: tuple) -> np.ndarray:
        count = int(np.prod(shape))
        return np.ctypeslib.as_array((ctypes.c_float * count).from_address(int(ptr))).reshape(shape)

    def submit(self, x: np.ndarray) -> int:
        """Enqueue one batch on the next slot (waiting for that slot's previous batch); returns the slot."""
        self._check_open()
        x = np.ascontiguousarray(x, dtype=np.float32)
        self.input_spec.check(x)
        index = self._next
        self._next = (self._next + 1) % self.SLOTS
        slot = self._slots[index]
        if slot["pending"] is not None:
            raise InputError("TensorRT slot still holds an uncollected batch; collect() it first")
        ctx, rt, stream = slot["context"], self._rt, slot["stream"]
        if not ctx.set_input_shape(self._in, tuple(x.shape)):
            raise InputError(f"input {x.shape} is outside the plan's optimisation profile")
        out_shape = tuple(ctx.get_tensor_shape(self._out))
        self._ensure(slot, x.nbytes, int(np.prod(out_shape)) * 4)
        self._host_view(slot["h_in"], x.shape)[...] = x
        kind = rt.cudaMemcpyKind
        self._check(rt.cudaMemcpyAsync(slot["d_in"], slot["h_in"], x.nbytes, kind.cudaMemcpyHostToDevice, stream))
        ctx.set_tensor_address(self._in, int(slot["d_in"]))
        ctx.set_tensor_address(self._out, int(slot["d_out"]))
        if not ctx.execute_async_v3(int(stream)):
            raise InputError("TensorRT failed to enqueue the batch")
        out_bytes = int(np.prod(out_shape)) * 4
        self._check(rt.cudaMemcpyAsync(slot["h_out"], slot["d_out"], out_bytes, kind.cudaMemcpyDeviceToHost, stream))
        slot["pending"] = out_shape
        return index

    def collect(self, index: int) -> np.ndarray:
        """Wait for a submitted batch and return its output (a copy: the pinned buffer is reused)."""
        slot = self._slots[index]
        shape = slot["pending"]
        self._check(self._rt.cudaStreamSynchronize(slot["stream"]))
        slot["pending"] = None
        return self._host_view(slot["h_out"], shape).copy()

    def run(self, x: np.ndarray) -> np.ndarray:
        return self.collect(self.submit(x))

    def close(self) -> None:
        if not self.closed:
            for slot in getattr(self, "_slots", []):
                self._rt.cudaStreamSynchronize(slot["stream"])
                self._free(slot)
                self._rt.cudaStreamDestroy(slot["stream"])
            self._slots, self.engine = [], None
        super().close()
