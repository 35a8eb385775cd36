"""The lab extension's REST routes, on a real Jupyter server with real kernels."""

import time

import pytest

pytest.importorskip("npukernel_lab", reason="lab_ext is not installed (pip install ./lab_ext)")

from tests.notebook.lab_server import jupyter  # noqa: E402

pytestmark = pytest.mark.xdist_group("jupyter")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    with jupyter(root, tmp_path_factory.mktemp("state"), app="server") as srv:
        yield srv


def _start(server, name):
    status, kernel = server.request("POST", "/api/kernels", {"name": name})
    assert status == 201, kernel
    return kernel["id"]


def _usage_when_ready(server, kernel_id, query="", timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        status, found = server.get(f"/npukernel/kernels/{kernel_id}/usage{query}")
        assert status == 200, found
        if found["message"] != "kernel did not answer usage_request" or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_usage_of_an_npu_kernel(server):
    kid = _start(server, "npu")
    found = _usage_when_ready(server, kid, "?interval_s=0.5&top=2")
    assert found["kernel_id"] == kid
    assert found["message"] == "ok"
    npu = found["npu"]
    assert npu["default"] == "npu:0"
    assert npu["devices"]["npu:0"]["memory"]["total"] == 32 * 2**30
    assert npu["devices"]["npu:0"]["interval_s"] == 0.5
    assert "pid" in found["host"]


def test_a_plain_python_kernel_answers_no_npu(server):
    kid = _start(server, "python3")
    found = _usage_when_ready(server, kid)
    assert found["npu"] is None
    assert found["message"] == "no NPU"
    assert "pid" in found["host"]


def test_unknown_kernel_is_404(server):
    status, _ = server.get("/npukernel/kernels/not-a-kernel/usage")
    assert status == 404


def test_bad_parameters_are_400(server):
    kid = _start(server, "python3")
    for query in ["?interval_s=soon", "?top=-1", "?interval_s=nan"]:
        status, found = server.get(f"/npukernel/kernels/{kid}/usage{query}")
        assert status == 400, (query, found)


def test_deployments_empty_until_deploy_exists(server):
    status, found = server.get("/npukernel/deployments")
    assert status == 200
    assert isinstance(found["deployments"], list)


def test_the_prebuilt_lab_extension_is_installed():
    from pathlib import Path

    from jupyter_core.paths import jupyter_path

    found = [Path(p) / "labextensions" / "npukernel-lab" for p in jupyter_path()]
    assert any((p / "package.json").is_file() and (p / "static").is_dir() for p in found)
