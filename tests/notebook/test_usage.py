"""The usage-reply payload and the status-bar text."""

import json

import numpy as np
import pytest

import npukernel as npk
from npukernel.notebook.usage import MAX_TOP, npu_usage, status_text


def test_npu_usage_is_json_and_lists_every_device():
    npk.ops.matmul(npk.Tensor(np.ones((8, 8), np.float32)), npk.Tensor(np.ones((8, 8), np.float32)))
    found = json.loads(json.dumps(npu_usage({"top": 2})))
    assert found["version"] == 1
    assert list(found["devices"]) == ["npu:0", "cpu"]
    assert len(found["devices"]["npu:0"]["top_ops"]) <= 2


@pytest.mark.parametrize(("content", "interval", "top"), [
    (None, 1.0, 5), ({"interval_s": 0.25, "top": 2}, 0.25, 2), ({"interval_s": -1}, 0.01, 5),
    ({"interval_s": float("nan"), "top": True}, 1.0, 5), ({"top": 10**6}, 1.0, MAX_TOP),
])  # fmt: skip
def test_npu_usage_clips_parameters(content, interval, top):
    dev = npu_usage(content)["devices"]["npu:0"]
    assert dev["interval_s"] == interval
    assert len(dev["top_ops"]) <= top


def test_status_text():
    npu = {"default": "npu:0", "devices": {"npu:0": {
        "device": "npu:0", "kind": "npu", "utilization": 0.37,
        "memory": {"used": int(1.2 * 2**30), "total": 32 * 2**30}}}}  # fmt: skip
    assert status_text(npu) == "NPU 0 · 1.2/32 GiB · 37%"
    npu["devices"]["npu:0"]["memory"]["used"] = 919 * 1024
    assert status_text(npu) == "NPU 0 · 919 KiB/32 GiB · 37%"
    npu["devices"]["npu:0"]["memory"]["used"] = int(1.2 * 2**30)
    assert status_text(None) == "no NPU"
    npu["devices"]["npu:0"].update(kind="cpu", device="cpu")
    npu["devices"]["npu:0"]["memory"]["total"] = None
    assert status_text(npu).startswith("CPU · 1.2/∞ GiB")
