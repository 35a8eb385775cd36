import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

import npukernel as npk
from npukernel import serialization
from npukernel.errors import CheckpointError
from npukernel.serialization import (
    atomic_write,
    load_checkpoint,
    load_param_into_net,
    read_checkpoint_metadata,
    save_checkpoint,
)


class Net:
    """A minimal stand-in with the Cell parameter API (names from param.name)."""

    def __init__(self, shapes=None, dtype=np.float32, seed=0):
        rng = np.random.default_rng(seed)
        shapes = shapes or {"fc.weight": (3, 4), "fc.bias": (3,), "bn.moving_mean": (3,)}
        self.params = [
            npk.Parameter(npk.Tensor(rng.standard_normal(s).astype(dtype)), name=n)
            for n, s in shapes.items()
        ]

    def parameters_and_names(self):
        return ((p.name, p) for p in self.params)

    def get_parameters(self):
        return iter(self.params)

    def values(self):
        return {p.name: p.asnumpy().copy() for p in self.params}


@pytest.fixture
def ckpt(tmp_path):
    net = Net()
    path = tmp_path / "net.ckpt"
    save_checkpoint(net, path)
    return net, str(path)


def test_round_trip_cell(ckpt):
    net, path = ckpt
    loaded = load_checkpoint(path)
    assert list(loaded) == ["fc.weight", "fc.bias", "bn.moving_mean"]
    for name, value in net.values().items():
        assert isinstance(loaded[name], npk.Parameter)
        assert loaded[name].name == name
        np.testing.assert_array_equal(loaded[name].asnumpy(), value)
    other = Net(seed=1)
    assert load_param_into_net(other, loaded) == ([], [])
    for name, value in net.values().items():
        np.testing.assert_array_equal(other.values()[name], value)


def test_load_checkpoint_with_net_and_prefix_filters(ckpt):
    net, path = ckpt
    other = Net(seed=2)
    load_checkpoint(path, net=other, strict_load=True)
    np.testing.assert_array_equal(other.values()["fc.bias"], net.values()["fc.bias"])
    assert list(load_checkpoint(path, specify_prefix="fc")) == ["fc.weight", "fc.bias"]
    assert list(load_checkpoint(path, filter_prefix=("fc.w", "bn"))) == ["fc.bias"]
    assert list(load_checkpoint(path, choice_func=lambda n: n.endswith("bias"))) == ["fc.bias"]


def test_dict_list_append_and_dtypes(tmp_path):
    values = {
        "f16": np.arange(4, dtype=np.float16).reshape(2, 2),
        "f64": np.linspace(0, 1, 3),
        "i8": np.array([-1, 2], np.int8),
        "u8": np.array([[255]], np.uint8),
        "i32": np.array([7], np.int32),
        "b": np.array([True, False]),
        "empty": np.zeros((0, 3), np.float32),
    }
    path = tmp_path / "mixed"  # .ckpt is appended
    save_checkpoint(
        [{"name": k, "data": npk.Tensor(v)} for k, v in values.items()],
        path,
        append_dict={"epoch_num": 3, "lr": 0.5, "tag": "best", "flag": True},
        metadata={"note": [1, 2]},
    )
    loaded = load_checkpoint(f"{path}.ckpt")
    for k, v in values.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        np.testing.assert_array_equal(loaded[k].asnumpy(), v)
    assert loaded["tag"] == "best"
    assert int(loaded["epoch_num"].asnumpy().reshape(-1)[0]) == 3
    assert float(loaded["lr"].asnumpy().reshape(-1)[0]) == 0.5
    assert read_checkpoint_metadata(f"{path}.ckpt") == {"note": [1, 2]}
    save_checkpoint({"scalar": np.array(2.5, np.float32)}, tmp_path / "s.ckpt")
    assert load_checkpoint(tmp_path / "s.ckpt")["scalar"].shape == ()


def test_file_is_safetensors_layout_with_checksums(ckpt):
    _, path = ckpt
    blob = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header["__metadata__"]
    assert meta["format"] == "npukernel-checkpoint"
    assert meta["format_version"] == "1"
    assert meta["npukernel_version"] == npk.__version__
    assert set(json.loads(meta["npk_sha256"])) == {"fc.weight", "fc.bias", "bn.moving_mean"}
    assert re.fullmatch(r"[0-9a-f]{64}", meta["npk_payload_sha256"])
    assert header["fc.weight"] == {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}
    assert len(blob) == 8 + n + int(meta["npk_payload_nbytes"])


def test_readable_by_safetensors_when_installed(ckpt):
    st = pytest.importorskip("safetensors.numpy")
    net, path = ckpt
    arrays = st.load_file(path)
    for name, value in net.values().items():
        np.testing.assert_array_equal(arrays[name], value)


# -- damaged files -------------------------------------------------------------------------
def _flip(path, offset):
    blob = bytearray(Path(path).read_bytes())
    blob[offset] ^= 0xFF
    Path(path).write_bytes(bytes(blob))


def _payload_start(path):
    blob = Path(path).read_bytes()
    return 8 + struct.unpack("<Q", blob[:8])[0]


def test_corrupted_payload_byte_names_file_and_parameter(ckpt):
    _, path = ckpt
    _flip(path, _payload_start(path) + 48 + 4)  # inside fc.bias
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert path in str(err.value) and "'fc.bias'" in str(err.value)
    assert "corrupted" in str(err.value)


@pytest.mark.parametrize("where", [0, 3, 20, -1])
def test_corrupted_header_byte(ckpt, where):
    _, path = ckpt
    start = _payload_start(path)
    offset = {0: 0, 3: 3, 20: 20, -1: start - 10}[where]
    _flip(path, offset)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert path in str(err.value)


@pytest.mark.parametrize("keep", [0, 5, 30, -1])
def test_truncated_file(ckpt, keep):
    _, path = ckpt
    blob = Path(path).read_bytes()
    Path(path).write_bytes(blob[: keep if keep >= 0 else len(blob) - 1])
    with pytest.raises(CheckpointError, match="truncated") as err:
        load_checkpoint(path)
    assert path in str(err.value)
    if keep == -1:
        assert "parameter 'bn.moving_mean' and 0 after it" in str(err.value)


def test_extra_bytes_and_missing_file(ckpt, tmp_path):
    _, path = ckpt
    with open(path, "ab") as f:
        f.write(b"\0")
    with pytest.raises(CheckpointError, match="longer than"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.ckpt")


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "x.ckpt"
    path.write_bytes(b"\x05\0\0\0\0\0\0\0hello")
    with pytest.raises(CheckpointError, match="not an npukernel checkpoint"):
        load_checkpoint(path)


# -- matching the network ------------------------------------------------------------------
def test_missing_parameter(ckpt):
    _, path = ckpt
    bigger = Net({"fc.weight": (3, 4), "fc.bias": (3,), "bn.moving_mean": (3,), "fc2.weight": (2,)})
    assert load_param_into_net(bigger, load_checkpoint(path)) == (["fc2.weight"], [])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, net=bigger, strict_load=True)
    assert path in str(err.value) and "'fc2.weight'" in str(err.value)


def test_extra_parameter(ckpt):
    _, path = ckpt
    smaller = Net({"fc.weight": (3, 4), "fc.bias": (3,)})
    before = smaller.values()
    assert load_param_into_net(smaller, load_checkpoint(path)) == ([], ["bn.moving_mean"])
    with pytest.raises(CheckpointError) as err:
        load_param_into_net(
            Net({"fc.weight": (3, 4), "fc.bias": (3,)}), load_checkpoint(path), True
        )
    assert path in str(err.value) and "'bn.moving_mean'" in str(err.value)
    assert smaller.values().keys() == before.keys()


def test_shape_mismatch_changes_nothing(ckpt):
    _, path = ckpt
    wrong = Net({"fc.weight": (3, 4), "fc.bias": (4,), "bn.moving_mean": (3,)}, seed=5)
    before = wrong.values()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, net=wrong)
    msg = str(err.value)
    assert path in msg and "'fc.bias'" in msg and "(3,)" in msg and "(4,)" in msg
    for name, value in before.items():  # validated before copying: fc.weight untouched
        np.testing.assert_array_equal(wrong.values()[name], value)


def test_dtype_mismatch(ckpt):
    _, path = ckpt
    wrong = Net(dtype=np.float64)
    with pytest.raises(CheckpointError, match="dtype") as err:
        load_checkpoint(path, net=wrong)
    assert path in str(err.value)


def test_duplicate_and_bad_values(tmp_path):
    with pytest.raises(npk.errors.DTypeError):
        save_checkpoint({"x": object()}, tmp_path / "a.ckpt")
    with pytest.raises(CheckpointError, match="twice"):
        save_checkpoint({"x": npk.Tensor([1.0])}, tmp_path / "a.ckpt", append_dict={"x": 1})
    assert not os.listdir(tmp_path)


# -- atomic writes -------------------------------------------------------------------------
def test_failure_mid_write_leaves_old_file(ckpt, monkeypatch):
    net, path = ckpt
    old = Path(path).read_bytes()
    new = Net(seed=9)

    def boom(fd):
        raise OSError("disk on fire")

    monkeypatch.setattr(serialization.os, "fsync", boom)
    with pytest.raises(OSError, match="disk on fire"):
        save_checkpoint(new, path)
    monkeypatch.undo()
    assert Path(path).read_bytes() == old
    assert os.listdir(os.path.dirname(path)) == ["net.ckpt"]  # temp file removed
    load_checkpoint(path)


def test_interrupt_mid_write_leaves_old_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def write(f):
        f.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, write)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_async_save(tmp_path):
    t = npk.Tensor([1.0, 2.0])
    save_checkpoint({"t": t}, tmp_path / "a.ckpt", async_save=True)
    t.asnumpy()[:] = 5.0  # values were copied before the background write
    serialization.wait_async_saves()
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "a.ckpt")["t"].asnumpy(), [1, 2])


# -- no pickle -----------------------------------------------------------------------------
def test_no_pickle_anywhere():
    root = Path(serialization.__file__).parent
    sources = [Path(serialization.__file__), *sorted((root / "train").rglob("*.py"))]
    for src in sources:
        text = src.read_text()
        assert not re.search(r"\bimport\s+(c?pickle|dill|joblib|shelve)\b", text), src
        assert not re.search(r"\bpickle\.|allow_pickle\s*=\s*True|np\.load\(", text), src


def test_consistent_but_invalid_header_is_rejected(ckpt):
    """A header rewritten with matching checksums but impossible entries."""
    _, path = ckpt
    blob = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    header["fc.bias"]["shape"] = [1000]
    header["__metadata__"]["npk_header_sha256"] = serialization._header_digest(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + n :])
    with pytest.raises(CheckpointError, match="'fc.bias' is invalid"):
        load_checkpoint(path)
