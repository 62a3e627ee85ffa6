"""Reading a checkpoint's bytes that anyone may have made: a shared zip, safetensors headers, JSON.

Nothing here trusts a size it is told. A zip's central directory is counted (from its end record)
before zipfile parses it; each entry is read in 1 MB chunks and dropped past its limit, whatever its
header claims; only the checkpoint's own file names are accepted, each once, stored or deflated,
unencrypted. A safetensors header (8-byte little-endian length + JSON) is parsed here so that names,
dtypes and shapes are compared with the config before any tensor is allocated. Every failure is a
CheckpointError (a ValueError) with a one-line message.
"""
from __future__ import annotations

import io
import json
import math
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

from .limits import MAX_MODEL_BYTES

FILES = ("model.safetensors", "config.json", "history.json", "optimizer.safetensors")
MAX_HEADER_BYTES = 2**20                                # a safetensors header (names, shapes, offsets)
LIMITS = {                                              # bytes per file
    "model.safetensors": MAX_MODEL_BYTES + MAX_HEADER_BYTES,
    "optimizer.safetensors": 3 * MAX_MODEL_BYTES + MAX_HEADER_BYTES,   # up to two slots per weight + steps
    "config.json": 8 * 2**20,                           # a custom text of 1,000,000 characters fits
    "history.json": 50 * 2**20,
}
MAX_ZIP_BYTES = sum(LIMITS.values()) + 2**20
MAX_ZIP_ENTRIES = 16                                    # the four files, a folder and a few extras of macOS
MAX_ZIP_DIRECTORY = 64 * 2**10
CHUNK = 2**20
SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64"}
_ITEMSIZE = {"F32": 4, "F64": 8}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says why in plain words."""


# ---- JSON ------------------------------------------------------------------------------------
def read_json(name: str, blob: bytes, limit: int | None = None) -> Any:
    """Decode one JSON file of a checkpoint (strict UTF-8, bounded size and nesting)."""
    limit = LIMITS.get(name, MAX_HEADER_BYTES) if limit is None else limit
    if len(blob) > limit:
        raise CheckpointError(f"{name} is larger than {limit // 2**20} MB")
    try:
        return json.loads(blob.decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{name} is nested too deeply to be an rnnviz file") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{name} is not valid JSON: {str(e)[:80]}") from None


def write_json(p: Path, obj, private: bool = False) -> None:
    write_file(p, json.dumps(obj, allow_nan=True, ensure_ascii=False).encode("utf-8"), private)


def write_file(p: Path, data: bytes, private: bool = False) -> None:
    """A new file (never an existing one), flushed to disk; mode 0o600 when private, else per umask."""
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# ---- safetensors headers -----------------------------------------------------------------------
def tensor_header(name: str, blob: bytes) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) of every tensor in a safetensors file, from its header alone; the data
    offsets must tile the rest of the file exactly."""
    if len(blob) < 8:
        raise CheckpointError(f"{name} cannot be read: it is too short to be a safetensors file")
    n = int.from_bytes(blob[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(blob):
        raise CheckpointError(f"{name} cannot be read: its header length ({n:,} bytes) does not fit the file")
    header = read_json(f"{name}'s header", blob[8:8 + n], MAX_HEADER_BYTES)
    if not isinstance(header, dict):
        raise CheckpointError(f"{name} cannot be read: its header is not a JSON object")
    out, spans = {}, []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        dtype, shape, offsets = (entry.get(k) if isinstance(entry, dict) else None
                                 for k in ("dtype", "shape", "data_offsets"))
        ok = (dtype in _ITEMSIZE and isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2
              and all(type(d) is int and d >= 0 for d in [*shape, *offsets]))
        if not ok:
            raise CheckpointError(f"{name} cannot be read: tensor {key[:60]!r} is not a float32/float64 "
                                  "tensor with a valid shape")
        if offsets[1] - offsets[0] != math.prod(shape) * _ITEMSIZE[dtype]:
            raise CheckpointError(f"{name} cannot be read: the size of {key[:60]!r} does not match its shape")
        out[key] = (dtype, tuple(shape))
        spans.append(tuple(offsets))
    end = 0
    for start, stop in sorted(spans):
        if start != end:
            raise CheckpointError(f"{name} cannot be read: its tensors overlap or leave gaps")
        end = stop
    if 8 + n + end != len(blob):
        raise CheckpointError(f"{name} cannot be read: its data does not match its header")
    return out


# ---- sharing: a checkpoint as one zip --------------------------------------------------------
def to_zip(path: str | os.PathLike) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in FILES:
            if (Path(path) / name).exists():
                z.write(Path(path) / name, name)
    return buf.getvalue()


def _bad_zip(detail: str) -> CheckpointError:
    return CheckpointError(f"the file is not a readable rnnviz checkpoint zip: {detail}")


def _count_entries(data: bytes) -> None:
    """Refuse a zip whose end record announces more entries or a larger directory than a checkpoint
    has, before zipfile builds an object per entry. Finds the record as zipfile does."""
    tail = data[-22:]
    if len(tail) == 22 and tail[:4] == b"PK\x05\x06" and tail[-2:] == b"\0\0":
        at = len(data) - 22
    else:
        at = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 2**16))
        if at < 0 or at + 22 > len(data):
            raise _bad_zip("it is not a zip archive")
    # signature, disk, disk of the directory, entries here, entries in all, directory size, offset, comment
    _, _, _, here, entries, size, _, _ = struct.unpack("<4s4H2LH", data[at:at + 22])
    entries = max(here, entries)
    if at >= 20 and data[at - 20:at - 16] == b"PK\x06\x07":
        raise _bad_zip("it is a zip64 archive (a checkpoint is small)")
    if entries > MAX_ZIP_ENTRIES or size > MAX_ZIP_DIRECTORY:
        raise _bad_zip(f"it has {entries:,} entries; a checkpoint has at most {len(FILES)} files")


def _is_extra(filename: str) -> bool:
    """Entries that zip tools add and a checkpoint does not need (they are not read)."""
    parts = filename.split("/")
    return filename.endswith("/") or parts[0] == "__MACOSX" or parts[-1] == ".DS_Store"


def _pick(infos: list[zipfile.ZipInfo]) -> dict[str, zipfile.ZipInfo]:
    """The checkpoint's files among the entries: each once, all in the archive's root or in one folder,
    the weights and the config among them, nothing else (but the extras of zip tools)."""
    picked, folders, unexpected = {}, set(), []
    for info in infos:
        if _is_extra(info.filename):
            continue
        *folder, name = info.filename.split("/")
        if name not in FILES or len(folder) > 1 or folder in ([""], [".."], ["."]):
            unexpected.append(info.filename)
            continue
        if name in picked:
            raise _bad_zip(f"{name} is in it twice")
        folders.add(tuple(folder))
        if len(folders) > 1:
            raise _bad_zip("its files are in more than one folder")
        if info.flag_bits & 0x1:
            raise _bad_zip(f"{name} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad_zip(f"{name} uses compression method {info.compress_type} (only stored and deflated are read)")
        if info.file_size > LIMITS[name]:
            raise CheckpointError(f"{name} in the zip is larger than {LIMITS[name] // 2**20} MB")
        picked[name] = info
    for name in ("model.safetensors", "config.json"):
        if name not in picked:
            raise CheckpointError(f"the checkpoint has no {name}: this zip is not an rnnviz checkpoint")
    if unexpected:
        raise _bad_zip(f"unexpected entry {unexpected[0][:60]!r} (a checkpoint holds only {', '.join(FILES)})")
    return picked


def _read_entry(z: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """The entry's bytes, read in chunks and dropped as soon as they pass the file's limit."""
    chunks, size = [], 0
    with z.open(info) as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            if size > LIMITS[name]:
                raise CheckpointError(f"{name} in the zip is larger than {LIMITS[name] // 2**20} MB")
            chunks.append(chunk)
    return b"".join(chunks)


def from_zip(data: bytes) -> dict[str, bytes]:
    """The checkpoint files inside an uploaded zip, checked as the module docstring says."""
    if len(data) > MAX_ZIP_BYTES:
        raise CheckpointError(f"the file is larger than {MAX_ZIP_BYTES // 2**20} MB: too large to be an "
                              "rnnviz checkpoint")
    _count_entries(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > MAX_ZIP_ENTRIES:
                raise _bad_zip(f"it has {len(infos):,} entries; a checkpoint has at most {len(FILES)} files")
            return {name: _read_entry(z, info, name) for name, info in _pick(infos).items()}
    except CheckpointError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # zipfile, zlib and struct raise many types for damaged archives: one message
        raise _bad_zip(f"{type(e).__name__}: {str(e)[:80]}") from None
