"""Checkpoints: save and load parameters safely (no pickle), atomically, with checksums.

A ``.ckpt`` file is a valid `safetensors <https://huggingface.co/docs/safetensors>`_ file::

    [8 bytes: little-endian u64 N][N bytes: JSON header][raw little-endian arrays]

The header maps each name to ``{"dtype", "shape", "data_offsets"}`` and carries string
``__metadata__``: the format version, the npukernel version, the sha256 of every array,
of the whole payload and of the header itself, plus JSON-encoded extras (string values
of ``append_dict``, training state such as epoch, step and random-generator state).
Nothing is ever unpickled, so loading a file from a stranger cannot run code.

Files are written to a temporary file in the same directory, flushed, fsync'ed and
renamed over the target (``os.replace``), so a crash or a kill leaves either the old
file or the new one, never half of one. On load every checksum is verified; a
truncated or corrupted file, or a parameter that does not fit the network, raises
:class:`~npukernel.errors.CheckpointError` naming the file and the parameter.

Example:
    >>> import npukernel as npk, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
    >>> save_checkpoint({"w": npk.Tensor([1.0, 2.0])}, path)
    >>> load_checkpoint(path)["w"].asnumpy().tolist()
    [1.0, 2.0]
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

import numpy as np

from npukernel.errors import CheckpointError, DTypeError
from npukernel.tensor import Parameter, Tensor

FORMAT = "npukernel-checkpoint"
FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_TO_CODE = {"float16": "F16", "float32": "F32", "float64": "F64", "int8": "I8", "uint8": "U8",
            "int16": "I16", "int32": "I32", "int64": "I64", "bool": "BOOL"}  # fmt: skip
_FROM_CODE = {v: np.dtype(k).newbyteorder("<") for k, v in _TO_CODE.items()}


# -- atomic writes ---------------------------------------------------------------------
def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file so that readers see the old content or the new one, never a mix.

    ``write(f)`` fills a temporary file in the target's directory; it is flushed,
    fsync'ed and renamed over ``path``. If anything fails (or the process is
    interrupted) before the rename, the temporary file is removed and ``path`` is
    untouched; a SIGKILL can leave a hidden ``.<name>.*.tmp`` file, which readers ignore.

    Args:
        path: Target file.
        write: Callback that writes the content to a binary file object.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> atomic_write(p, lambda f: f.write(b"hi"))
        >>> open(p, "rb").read()
        b'hi'
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # pragma: no cover - not every filesystem allows fsync on a directory
        pass


# -- collecting what to save -----------------------------------------------------------
def _as_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        arr = value.asnumpy()
    elif isinstance(value, (bool, int, float, np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
            arr = arr.astype(np.float32)
    else:
        raise DTypeError(
            f"For 'save_checkpoint', the value of '{name}' must be a Tensor, Parameter, "
            f"number or numpy array, but got {type(value).__name__}."
        )
    if arr.dtype.name not in _TO_CODE:
        raise DTypeError(
            f"For 'save_checkpoint', '{name}' has dtype {arr.dtype}, which a checkpoint "
            f"cannot hold; use one of {sorted(_TO_CODE)}."
        )
    return arr.astype(arr.dtype.newbyteorder("<"), order="C", copy=False)


def _named_values(save_obj: Any) -> Iterable[tuple[str, Any]]:
    if hasattr(save_obj, "parameters_and_names"):  # a Cell or an optimizer
        yield from named_parameters(save_obj)
    elif isinstance(save_obj, Mapping):
        yield from save_obj.items()
    elif isinstance(save_obj, (list, tuple)):  # MindSpore's [{"name": ..., "data": ...}]
        for item in save_obj:
            if isinstance(item, Mapping) and "name" in item and "data" in item:
                yield item["name"], item["data"]
            elif isinstance(item, Mapping):
                yield from item.items()
            else:
                raise DTypeError(
                    "For 'save_checkpoint', a list 'save_obj' must hold dicts "
                    f"{{'name': str, 'data': Tensor}}, but got {type(item).__name__}."
                )
    else:
        raise DTypeError(
            "For 'save_checkpoint', 'save_obj' must be a Cell, an optimizer, a dict of "
            f"name -> Tensor or a list of dicts, but got {type(save_obj).__name__}."
        )


def named_parameters(obj: Any) -> list[tuple[str, Any]]:
    """``(checkpoint name, Parameter)`` of a Cell or optimizer, each parameter once.

    The checkpoint name is ``param.name`` (``parameters_dict()``), as in MindSpore, so
    wrappers built with ``auto_prefix=False`` (``TrainOneStepCell``, optimizers) save
    the same names as the bare network.
    """
    if hasattr(obj, "get_parameters"):
        pairs: Iterable[tuple[str, Any]] = ((p.name, p) for p in obj.get_parameters())
    elif hasattr(obj, "parameters_dict"):
        pairs = obj.parameters_dict().items()
    else:
        pairs = obj.parameters_and_names()
    out: dict[str, Any] = {}
    for name, param in pairs:
        if name in out and out[name] is not param:
            raise CheckpointError(
                f"For '{type(obj).__name__}', two different parameters are both named '{name}'; "
                "give them distinct names before saving or loading a checkpoint."
            )
        out[name] = param
    return list(out.items())


def _collect(
    save_obj: Any, append_dict: Mapping[str, Any] | None, choice_func: Callable | None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    arrays: dict[str, np.ndarray] = {}
    strings: dict[str, str] = {}
    items = list(_named_values(save_obj)) + list((append_dict or {}).items())
    for name, value in items:
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise DTypeError(f"For 'save_checkpoint', names must be non-empty str, got {name!r}.")
        if choice_func is not None and not choice_func(name):
            continue
        if name in arrays or name in strings:
            raise CheckpointError(f"For 'save_checkpoint', the name '{name}' appears twice.")
        if isinstance(value, str):
            strings[name] = value
        else:
            arrays[name] = _as_array(value, name)
    return arrays, strings


# -- the file format -------------------------------------------------------------------
def _header_digest(header: Mapping[str, Any]) -> str:
    """sha256 of the header in canonical form, without the digest itself."""
    meta = {k: v for k, v in header["__metadata__"].items() if k != "npk_header_sha256"}
    canon = dict(header, __metadata__=meta)
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()


def _encode(
    arrays: Mapping[str, np.ndarray], strings: Mapping[str, str], metadata: Mapping[str, Any]
) -> tuple[bytes, list[np.ndarray]]:
    """The header bytes (length prefix included) and the arrays to write after it."""
    from npukernel import __version__

    header: dict[str, Any] = {}
    sums: dict[str, str] = {}
    payload = hashlib.sha256()
    offset = 0
    for name, arr in arrays.items():
        data = memoryview(arr).cast("B") if arr.nbytes else b""
        sums[name] = hashlib.sha256(data).hexdigest()
        payload.update(data)
        header[name] = {"dtype": _TO_CODE[arr.dtype.name], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + arr.nbytes]}  # fmt: skip
        offset += arr.nbytes
    header["__metadata__"] = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "npukernel_version": __version__,
        "npk_sha256": json.dumps(sums),
        "npk_payload_sha256": payload.hexdigest(),
        "npk_payload_nbytes": str(offset),
        "npk_strings": json.dumps(dict(strings)),
        "npk_metadata": json.dumps(dict(metadata)),
    }
    header["__metadata__"]["npk_header_sha256"] = _header_digest(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes
    return struct.pack("<Q", len(raw)) + raw, list(arrays.values())


def _write(path: str, head: bytes, arrays: list[np.ndarray]) -> None:
    def write(f: IO[bytes]) -> None:
        f.write(head)
        for arr in arrays:
            if arr.nbytes:
                f.write(memoryview(arr).cast("B"))

    atomic_write(path, write)


def _fail(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"For checkpoint '{path}', {what}")


def _parse_header(path: str, blob: bytes) -> tuple[dict[str, Any], int]:
    if len(blob) < 8:
        raise _fail(
            path, f"the file is truncated: {len(blob)} bytes, fewer than the 8-byte prefix."
        )
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER:
        raise _fail(path, f"the header length {n} is implausible: the file is corrupted.")
    if 8 + n > len(blob):
        raise _fail(
            path, f"the file is truncated: the header needs {8 + n} bytes, got {len(blob)}."
        )
    try:
        header = json.loads(blob[8 : 8 + n])
        meta = header["__metadata__"]
        if meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        intact = meta.get("npk_header_sha256") == _header_digest(header)
        version = int(meta["format_version"])
        meta["npk_payload_nbytes"] = int(meta["npk_payload_nbytes"])
        if not isinstance(meta["npk_payload_sha256"], str):
            raise TypeError("npk_payload_sha256 is not a string")
        for key in ("npk_sha256", "npk_strings", "npk_metadata"):
            meta[key] = json.loads(meta[key])
            if not isinstance(meta[key], dict):
                raise TypeError(f"{key} is not a JSON object")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise _fail(
            path, f"the header is corrupted or not an npukernel checkpoint ({exc})."
        ) from None
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"format version {meta['format_version']} is newer than this npukernel reads "
            f"({FORMAT_VERSION}); upgrade npukernel.",
        )
    if not intact:
        raise _fail(path, "the header checksum does not match: the file is corrupted.")
    return header, 8 + n


def _entry(path: str, name: str, entry: Any, size: int) -> tuple[np.dtype, tuple, int, int]:
    """Validate one header entry (a consistent but crafted header must not crash numpy)."""
    try:
        dtype = _FROM_CODE[entry["dtype"]]
        shape = tuple(int(d) for d in entry["shape"])
        begin, end = (int(v) for v in entry["data_offsets"])
        ok = min(shape, default=0) >= 0 and 0 <= begin <= end <= size
        ok = ok and end - begin == int(np.prod(shape)) * dtype.itemsize
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise _fail(path, f"the header entry of parameter '{name}' is invalid: {entry!r}.")
    return dtype, shape, begin, end


def _read(path: str) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, Any]]:
    """Arrays, string values and metadata of a checkpoint, every checksum verified."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        raise _fail(path, "the file does not exist.") from None
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({exc}).") from None
    header, start = _parse_header(path, blob)
    meta = header.pop("__metadata__")
    expected = start + meta["npk_payload_nbytes"]
    if len(blob) > expected:
        raise _fail(
            path, f"the file is longer than its header says: {len(blob)} > {expected} bytes."
        )
    if len(blob) < expected:
        try:
            cut = [n for n, e in header.items() if start + int(e["data_offsets"][1]) > len(blob)]
            which = f"; parameter '{cut[0]}' and {len(cut) - 1} after it are incomplete"
        except (KeyError, TypeError, ValueError, IndexError):
            which = ""
        raise _fail(
            path, f"the file is truncated: expected {expected} bytes, got {len(blob)}{which}."
        )
    sums = meta["npk_sha256"]
    view = memoryview(blob)[start:]
    payload_ok = hashlib.sha256(view).hexdigest() == meta["npk_payload_sha256"]
    arrays: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        dtype, shape, begin, end = _entry(path, name, entry, len(view))
        chunk = view[begin:end]
        if not payload_ok and hashlib.sha256(chunk).hexdigest() != sums.get(name):
            raise _fail(path, f"parameter '{name}' is corrupted: its sha256 does not match.")
        arr = np.frombuffer(chunk, dtype=dtype).reshape(shape)
        arrays[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    if not payload_ok:
        raise _fail(path, "the payload checksum does not match: the file is corrupted.")
    return arrays, meta["npk_strings"], meta["npk_metadata"]


# -- public API ------------------------------------------------------------------------
def _ckpt_name(ckpt_file_name: str | os.PathLike) -> str:
    name = os.fspath(ckpt_file_name)
    return name if name.endswith(".ckpt") else name + ".ckpt"


def save_checkpoint(
    save_obj: Any,
    ckpt_file_name: str | os.PathLike,
    integrated_save: bool = True,
    async_save: bool = False,
    append_dict: Mapping[str, Any] | None = None,
    enc_key: Any = None,
    enc_mode: str = "AES-GCM",
    choice_func: Callable[[str], bool] | None = None,
    *,
    metadata: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Save parameters to a ``.ckpt`` file (MindSpore's ``mindspore.save_checkpoint``).

    Args:
        save_obj: A Cell or an optimizer (its ``parameters_and_names()``: an optimizer's
            moments, step and learning rate), a dict ``name -> Tensor``, or a list of
            ``{"name": str, "data": Tensor}`` dicts.
        ckpt_file_name: Target path; ``.ckpt`` is appended when missing.
        integrated_save: Accepted for MindSpore compatibility (one device: always whole).
        async_save: Write in a background thread (the values are copied first).
        append_dict: Extra ``name -> int | float | bool | str | Tensor`` entries;
            numbers and tensors load back as Parameters, strings as str.
        enc_key: Encryption is not supported; must be None.
        enc_mode: Ignored (MindSpore compatibility).
        choice_func: ``f(name) -> bool``; only names for which it is true are saved.
        metadata: npukernel extension: a JSON-serialisable dict stored in the header
            (see :func:`read_checkpoint_metadata`).
        **kwargs: Other MindSpore options (``format``, ``crc_check``...) are accepted and
            ignored: the format is always this one and checksums are always written.

    Raises:
        DTypeError: for a value that is not a tensor, number or string.
        CheckpointError: for a duplicated name.

    Example:
        >>> import npukernel as npk, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "net")
        >>> save_checkpoint({"w": npk.Tensor([1.0])}, path, append_dict={"epoch_num": 3})
        >>> sorted(load_checkpoint(path + ".ckpt"))
        ['epoch_num', 'w']
    """
    if enc_key is not None:
        raise NotImplementedError("For 'save_checkpoint', encryption ('enc_key') is not supported.")
    path = _ckpt_name(ckpt_file_name)
    arrays, strings = _collect(save_obj, append_dict, choice_func)
    if async_save:
        arrays = {k: v.copy() for k, v in arrays.items()}
    head, data = _encode(arrays, strings, metadata or {})
    if async_save:
        thread = threading.Thread(target=_write, args=(path, head, data), name="save_checkpoint")
        thread.start()
        _pending.append(thread)
    else:
        _write(path, head, data)


_pending: list[threading.Thread] = []


def wait_async_saves() -> None:
    """Block until every ``save_checkpoint(..., async_save=True)`` has finished writing.

    Example:
        >>> wait_async_saves()
    """
    while _pending:
        _pending.pop().join()


class CheckpointDict(dict):
    """The ``dict[name, Parameter]`` returned by :func:`load_checkpoint`.

    Remembers the file it came from (``.file``) so later errors can name it.
    """

    file: str | None = None


def _select(name: str, filter_prefix: Any, specify_prefix: Any, choice_func: Any) -> bool:
    def as_tuple(p: Any) -> tuple[str, ...]:
        return (p,) if isinstance(p, str) else tuple(p)

    if specify_prefix is not None and not name.startswith(as_tuple(specify_prefix)):
        return False
    if filter_prefix is not None and name.startswith(as_tuple(filter_prefix)):
        return False
    return choice_func is None or bool(choice_func(name))


def load_checkpoint(
    ckpt_file_name: str | os.PathLike,
    net: Any = None,
    strict_load: bool = False,
    filter_prefix: str | Iterable[str] | None = None,
    dec_key: Any = None,
    dec_mode: str = "AES-GCM",
    specify_prefix: str | Iterable[str] | None = None,
    choice_func: Callable[[str], bool] | None = None,
    **kwargs: Any,
) -> CheckpointDict:
    """Load a ``.ckpt`` file, verifying its checksums (MindSpore's ``load_checkpoint``).

    Args:
        ckpt_file_name: Path of the checkpoint.
        net: When given, the parameters are loaded into it (see
            :func:`load_param_into_net`).
        strict_load: Passed to :func:`load_param_into_net` when ``net`` is given.
        filter_prefix: Skip names starting with this prefix (or any of these).
        dec_key: Decryption is not supported; must be None.
        dec_mode: Ignored (MindSpore compatibility).
        specify_prefix: Load only names starting with this prefix (or any of these).
        choice_func: ``f(name) -> bool``; only names for which it is true are loaded.
        **kwargs: Other MindSpore options are accepted and ignored.

    Returns:
        ``name -> Parameter`` (string entries of ``append_dict`` come back as str).

    Raises:
        CheckpointError: if the file is missing, truncated or corrupted, or (with
            ``net`` and ``strict_load``) does not match the network.

    Example:
        >>> import npukernel as npk, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
        >>> save_checkpoint({"w": npk.Tensor([[1.0, 2.0]])}, path)
        >>> load_checkpoint(path)["w"].shape
        (1, 2)
    """
    if dec_key is not None:
        raise NotImplementedError("For 'load_checkpoint', decryption ('dec_key') is not supported.")
    path = os.fspath(ckpt_file_name)
    arrays, strings, _ = _read(path)
    out = CheckpointDict()
    out.file = path
    for name, arr in arrays.items():
        if _select(name, filter_prefix, specify_prefix, choice_func):
            out[name] = Parameter(Tensor(arr, dtype=arr.dtype), name=name)
    for name, value in strings.items():
        if _select(name, filter_prefix, specify_prefix, choice_func):
            out[name] = value
    if net is not None:
        load_param_into_net(net, out, strict_load)
    return out


def read_checkpoint_metadata(ckpt_file_name: str | os.PathLike) -> dict[str, Any]:
    """The ``metadata`` a checkpoint was saved with, after verifying the whole file.

    Args:
        ckpt_file_name: Path of the checkpoint.

    Returns:
        The metadata dict (``{}`` when none was given).

    Raises:
        CheckpointError: if the file is missing, truncated or corrupted.

    Example:
        >>> import npukernel as npk, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "w.ckpt")
        >>> save_checkpoint({"w": npk.Tensor([1.0])}, path, metadata={"step": 7})
        >>> read_checkpoint_metadata(path)
        {'step': 7}
    """
    return _read(os.fspath(ckpt_file_name))[2]


def load_param_into_net(
    net: Any, parameter_dict: Mapping[str, Any], strict_load: bool = False, **kwargs: Any
) -> tuple[list[str], list[str]]:
    """Copy checkpoint values into a network's (or an optimizer's) parameters.

    Every name is checked before anything is copied, so a failed load leaves the
    network unchanged. Shapes and dtypes must match exactly.

    Args:
        net: A Cell or an optimizer (anything with ``parameters_and_names()``).
        parameter_dict: ``name -> Parameter | Tensor | ndarray``, e.g. from
            :func:`load_checkpoint`.
        strict_load: Raise when a parameter of ``net`` is missing from the dict, or the
            dict holds a name ``net`` does not have. (MindSpore's flag concerns name
            prefixes; here it means "exactly the same set of names".)
        **kwargs: Other MindSpore options (``remove_redundancy``) are accepted and ignored.

    Returns:
        ``(param_not_load, ckpt_not_load)``: names of ``net`` that were not loaded, and
        names of the dict that ``net`` does not have.

    Raises:
        CheckpointError: on a shape or dtype mismatch, or a missing or extra name with
            ``strict_load``; the message names the file (when known) and the parameter.

    Example:
        >>> import npukernel as npk
        >>> class Net:
        ...     w = npk.Parameter(npk.Tensor([0.0]), name="w")
        ...     def parameters_and_names(self):
        ...         yield "w", self.w
        >>> load_param_into_net(Net(), {"w": npk.Tensor([5.0]), "extra": npk.Tensor([1.0])})
        ([], ['extra'])
    """
    if not hasattr(net, "parameters_and_names"):
        raise DTypeError(
            "For 'load_param_into_net', 'net' must be a Cell or an optimizer, "
            f"but got {type(net).__name__}."
        )
    if not isinstance(parameter_dict, Mapping):
        raise DTypeError(
            "For 'load_param_into_net', 'parameter_dict' must be a dict, "
            f"but got {type(parameter_dict).__name__}."
        )
    where = getattr(parameter_dict, "file", None)
    source = f"checkpoint '{where}'" if where else "'load_param_into_net'"
    params = named_parameters(net)
    param_not_load: list[str] = []
    updates: list[tuple[Any, np.ndarray]] = []
    for name, param in params:
        if name not in parameter_dict:
            param_not_load.append(name)
            continue
        value = parameter_dict[name]
        arr = value.asnumpy() if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != tuple(param.shape):
            raise CheckpointError(
                f"For {source}, parameter '{name}' has shape {arr.shape} in the checkpoint "
                f"but {tuple(param.shape)} in the network."
            )
        if arr.dtype != param.dtype:
            raise CheckpointError(
                f"For {source}, parameter '{name}' has dtype {arr.dtype} in the checkpoint "
                f"but {param.dtype} in the network."
            )
        updates.append((param, arr))
    names = {n for n, _ in params}
    ckpt_not_load = [n for n in parameter_dict if n not in names]
    if strict_load and (param_not_load or ckpt_not_load):
        parts = []
        if param_not_load:
            parts.append(f"parameters missing from the checkpoint: {param_not_load}")
        if ckpt_not_load:
            parts.append(f"parameters the network does not have: {ckpt_not_load}")
        raise CheckpointError(f"For {source}, strict_load failed: {'; '.join(parts)}.")
    for param, arr in updates:
        param.assign_value(arr)
    return param_not_load, ckpt_not_load


__all__ = [
    "CheckpointDict",
    "atomic_write",
    "named_parameters",
    "load_checkpoint",
    "load_param_into_net",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "wait_async_saves",
]
