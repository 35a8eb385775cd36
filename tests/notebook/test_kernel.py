"""The "Python 3 (NPU)" kernel, started for real: usage_request answered mid-cell."""

import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")

from jupyter_client.manager import start_new_kernel  # noqa: E402

BUSY_CELL = """
import time
import numpy as np
import npukernel as npk
x = npk.Tensor(np.ones((128, 128), np.float32))
t0 = time.perf_counter()
while time.perf_counter() - t0 < {seconds}:
    y = npk.ops.relu(npk.ops.matmul(x, x))
"""


def _usage(kc, content=None, timeout=10.0):
    msg = kc.session.msg("usage_request", content or {})
    kc.control_channel.send(msg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = kc.control_channel.get_msg(timeout=deadline - time.monotonic())
        if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return reply
    raise TimeoutError("no usage_reply")


def _wait_reply(kc, msg_id, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = kc.get_shell_msg(timeout=deadline - time.monotonic())
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply
    raise TimeoutError("no execute_reply")


@pytest.fixture(scope="module")
def npu_kernel():
    km, kc = start_new_kernel(kernel_name="npu", startup_timeout=120)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_kernel_loads_the_extension(npu_kernel):
    kc = npu_kernel
    msg_id = kc.execute("%npu use npu:0")
    reply = _wait_reply(kc, msg_id)
    assert reply["content"]["status"] == "ok"
    info = kc.kernel_info(reply=True)
    assert info["content"]["implementation"] == "npukernel"


def test_usage_request_is_answered_while_a_cell_runs(npu_kernel):
    kc = npu_kernel
    _wait_reply(kc, kc.execute("import npukernel"))  # imports done before the clock starts
    seconds = 4.0
    started = time.monotonic()
    msg_id = kc.execute(BUSY_CELL.format(seconds=seconds))
    time.sleep(2.0)
    reply = _usage(kc, {"interval_s": 1.0, "top": 3})
    answered = time.monotonic()
    done = _wait_reply(kc, msg_id)
    finished = time.monotonic()
    assert done["content"]["status"] == "ok"
    assert answered < finished - 0.5, "usage_reply came only after the cell ended"
    assert answered - started < seconds

    content = reply["content"]
    assert reply["header"]["msg_type"] == "usage_reply"
    # ipykernel's own fields are still there ...
    assert {"hostname", "pid", "cpu_count"} <= set(content)
    # ... next to the NPU's.
    npu = content["npu"]
    assert npu["default"] == "npu:0"
    dev = npu["devices"]["npu:0"]
    assert dev["launches"] > 0
    assert dev["launches_in_interval"] > 0
    assert dev["memory"]["used"] > 0
    assert dev["memory"]["total"] == 32 * 2**30
    assert 0.0 < dev["utilization"] <= 1.0
    assert 0 < len(dev["top_ops"]) <= 3
    assert {t["op"] for t in dev["top_ops"]} & {"matmul", "relu"}
    assert {"cpu_time_s", "npu_time_s", "calls", "unit"} <= set(dev["top_ops"][0])


def test_usage_request_ignores_bad_parameters(npu_kernel):
    reply = _usage(npu_kernel, {"interval_s": "soon", "top": -4})
    npu = reply["content"]["npu"]
    assert npu["devices"]["npu:0"]["interval_s"] == 1.0
    assert npu["devices"]["npu:0"]["top_ops"] == []


@pytest.mark.slow
def test_plain_python_kernel_has_no_npu_field():
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
    try:
        reply = _usage(kc)
        assert reply["header"]["msg_type"] == "usage_reply"
        assert "npu" not in reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
