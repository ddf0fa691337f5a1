"""Read ``metadata_props`` of an ONNX file without the onnx package (a render node has only a runtime).

ONNX files are protobuf ``ModelProto`` messages; ``metadata_props`` is field 14, repeated
``StringStringEntryProto {key = 1; value = 2}``. Only the top-level fields are walked; the graph (field 7,
most of the bytes) is skipped by its length prefix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..card import ModelCard
from ..errors import CheckpointError

_METADATA_FIELD = 14
META_CARD, META_MODEL_SHA, META_CARD_SHA = "filmgan_card", "filmgan_model_sha256", "filmgan_card_sha256"


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message's top-level fields."""
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated message")
        yield number, wire, value


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    """``{key: value}`` of an ONNX file's metadata_props; CheckpointError if it is not an ONNX model."""
    path = Path(path)
    try:
        data = path.read_bytes()
        out = {}
        for number, wire, value in _fields(data):
            if number == _METADATA_FIELD and wire == 2:
                entry = {n: bytes(v).decode() for n, w, v in _fields(value) if w == 2}
                out[entry.get(1, "")] = entry.get(2, "")
        return out
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable ONNX file ({exc})") from exc


def card_from_metadata(meta: dict[str, str], where: str) -> ModelCard:
    """The model card stored in an exported ONNX's metadata (checked against its digest)."""
    if META_CARD not in meta:
        raise CheckpointError(f"{where} has no filmgan model card in its ONNX metadata")
    text = meta[META_CARD]
    if meta.get(META_CARD_SHA) and hashlib.sha256(text.encode()).hexdigest() != meta[META_CARD_SHA]:
        raise CheckpointError(f"{where}: the model card in the ONNX metadata does not match its digest")
    return ModelCard.from_json(text, where=where)
