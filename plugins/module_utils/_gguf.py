# Copyright: llm-infra contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read the metadata (key/value header) of a GGUF model file with the standard library only.

Only the header is read: tensor data is never touched, so a multi-GB model costs a few kB of I/O.
Large arrays (the tokenizer's vocabulary) are skipped and reported by their length.
"""

from __future__ import annotations

import struct

GGUF_MAGIC = b"GGUF"

# GGUF value types (gguf spec): id -> struct format for the scalar ones.
_SCALARS = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}
_STRING = 8
_ARRAY = 9
# Arrays longer than this are summarised as {"array_length": n}: vocabularies have 100k+ entries.
MAX_ARRAY = 64


class GGUFError(Exception):
    """The file is not a readable GGUF file."""


class _Reader:
    def __init__(self, handle, endian):
        self.handle = handle
        self.endian = endian

    def read(self, size):
        data = self.handle.read(size)
        if len(data) != size:
            raise GGUFError("file ends inside the metadata header")
        return data

    def scalar(self, fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(self.endian + fmt, self.read(size))[0]

    def string(self):
        length = self.scalar("Q")
        if length > 1 << 24:
            raise GGUFError("implausible string length %d" % length)
        return self.read(length).decode("utf-8", errors="replace")

    def skip(self, size):
        self.handle.seek(size, 1)

    def value(self, vtype):
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type = self.scalar("I")
            length = self.scalar("Q")
            if length <= MAX_ARRAY:
                return [self.value(item_type) for dummy in range(length)]
            if item_type in _SCALARS:
                self.skip(length * struct.calcsize(_SCALARS[item_type]))
            else:
                for dummy in range(length):
                    self.value(item_type)
            return {"array_length": length}
        raise GGUFError("unknown value type %d" % vtype)


def read_metadata(path):
    """Return {'version': n, 'tensor_count': n, 'metadata': {key: value}} of the GGUF file at `path`."""
    with open(path, "rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise GGUFError("%s is not a GGUF file (bad magic)" % path)
        raw_version = handle.read(4)
        if len(raw_version) != 4:
            raise GGUFError("file ends inside the metadata header")
        endian = "<"
        version = struct.unpack("<I", raw_version)[0]
        if version & 0xFFFF == 0 and version != 0:
            # Big-endian files store the version byte-swapped.
            endian = ">"
            version = struct.unpack(">I", raw_version)[0]
        if version not in (2, 3):
            raise GGUFError("%s has unsupported GGUF version %d" % (path, version))
        reader = _Reader(handle, endian)
        tensor_count = reader.scalar("Q")
        kv_count = reader.scalar("Q")
        metadata = {}
        for dummy in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(reader.scalar("I"))
    return {"version": version, "tensor_count": tensor_count, "metadata": metadata}


def summary(info):
    """The facts a server cares about: architecture, trained context, name, chat template presence."""
    meta = info["metadata"]
    arch = meta.get("general.architecture", "")
    return {
        "architecture": arch,
        "name": meta.get("general.name", ""),
        "context_length": int(meta.get("%s.context_length" % arch, 0) or 0),
        "block_count": int(meta.get("%s.block_count" % arch, 0) or 0),
        "embedding_length": int(meta.get("%s.embedding_length" % arch, 0) or 0),
        "file_type": meta.get("general.file_type", -1),
        "has_chat_template": "tokenizer.chat_template" in meta,
        "tensor_count": info["tensor_count"],
        "version": info["version"],
    }
