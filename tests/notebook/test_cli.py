"""`npukernel install-kernel` and `npukernel usage`."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("jupyter_client")

from npukernel.cli import main  # noqa: E402


def test_install_kernel_into_a_prefix(tmp_path, capsys):
    assert main(["install-kernel", "--prefix", str(tmp_path), "--display-name", "NPU test"]) == 0
    spec = tmp_path / "share" / "jupyter" / "kernels" / "npu"
    assert str(spec) in capsys.readouterr().out
    found = json.loads((spec / "kernel.json").read_text())
    assert found["argv"][0] == sys.executable
    assert found["argv"][1:3] == ["-m", "npukernel.notebook.kernel"]
    assert found["display_name"] == "NPU test"
    assert (spec / "logo-svg.svg").is_file()


def test_usage_prints_json(capsys):
    assert main(["usage", "--top", "2"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["default"] == "npu:0" and "npu:0" in found["devices"]


def test_console_script_and_module_agree():
    out = subprocess.run(
        [sys.executable, "-m", "npukernel", "install-kernel", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--sys-prefix" in out and "--user" in out


def test_wheel_ships_the_kernel_spec():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("npu")
    assert spec.display_name == "Python 3 (NPU)"
    assert spec.argv[1:3] == ["-m", "npukernel.notebook.kernel"]
