"""%npu and %%npu_profile through IPython's InteractiveShell (no kernel needed)."""

import numpy as np
import pytest

pytest.importorskip("IPython")

from IPython.core.error import UsageError  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

import npukernel as npk  # noqa: E402
from npukernel import device  # noqa: E402
from npukernel.notebook.report import UsageReport  # noqa: E402


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "npukernel")
    yield shell
    device.set_num_devices(1)


def _launch_some():
    x = npk.Tensor(np.ones((32, 32), np.float32))
    for _ in range(3):
        npk.ops.matmul(x, x)


def test_npu_shows_devices_memory_and_top_ops(ip):
    for dev in device.devices():  # other tests in this worker launched ops too
        dev.reset_counters()
    _launch_some()
    report = ip.run_line_magic("npu", "")
    assert isinstance(report, UsageReport)
    text = repr(report)
    assert "npu:0*" in text and "ascend910" in text
    assert "Memory" in text and "matmul" in text
    html = report._repr_html_()
    assert "<table" in html and "matmul" in html


@pytest.mark.parametrize(("line", "title"), [
    ("devices", "Devices"), ("memory", "Memory"), ("ops 3", "Top ops"), ("top", "Top ops"),
])  # fmt: skip
def test_npu_sections(ip, line, title):
    report = ip.run_line_magic("npu", line)
    assert [t[0].split(" ")[0] for t in report.tables()] == [title.split(" ")[0]]


def test_npu_ops_limits_rows(ip):
    _launch_some()
    npk.ops.relu(npk.Tensor(np.ones((4,), np.float32)))
    ((_, _, rows),) = ip.run_line_magic("npu", "ops 1").tables()
    assert len(rows) == 1


def test_npu_use_and_count(ip, capsys):
    ip.run_line_magic("npu", "count 2")
    ip.run_line_magic("npu", "use npu:1")
    assert device.default().name == "npu:1"
    assert "npu:1" in capsys.readouterr().out
    ip.run_line_magic("npu", "use npu:0")
    assert device.default().name == "npu:0"


def test_npu_profile_shows_the_chip(ip):
    assert "ascend910" in repr(ip.run_line_magic("npu", "profile"))
    assert "ascend310" in repr(ip.run_line_magic("npu", "profile ascend310"))


@pytest.mark.parametrize("line", ["use npu:99", "use", "frobnicate", "ops many", "count x"])
def test_npu_bad_input_is_a_usage_error(ip, line):
    with pytest.raises(UsageError):
        ip.run_line_magic("npu", line)


def test_npu_reset(ip):
    _launch_some()
    ip.run_line_magic("npu", "reset")
    assert device.get("npu:0").usage()["launches"] == 0


def test_npu_profile_cell(ip):
    ip.user_ns["npk"] = npk
    ip.user_ns["np"] = np
    cell = "x = npk.Tensor(np.ones((16, 16), np.float32))\ny = npk.ops.matmul(x, x)\n"
    ip.run_cell_magic("npu_profile", "--table -s npu_time_s -o prof", cell)
    prof = ip.user_ns["prof"]
    assert prof is ip.user_ns["_npu_profile"]
    assert "matmul" in set(prof.summary().index)
    assert ip.user_ns["y"].shape == (16, 16)


def test_npu_profile_bad_sort(ip):
    with pytest.raises(UsageError):
        ip.run_cell_magic("npu_profile", "-s speed", "pass")
