"""A fresh venv built exactly as binder/ says runs the tutorials (slow: a full install).

It installs every dependency from the package index into a new venv (a few minutes; pip's
cache makes later runs quicker). Marked slow, so ``make test-fast`` leaves it out.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("jupyter")]

RUN_TUTORIALS = """
import sys, nbformat
from nbclient import NotebookClient
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="npu",
                   resources={"metadata": {"path": "tutorials"}}).execute()
    print("ran", path)
"""


def test_binder_environment_runs_the_tutorials(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
           "VIRTUAL_ENV": str(venv)}  # fmt: skip
    env.pop("PYTHONPATH", None)
    # a fresh HOME, as on Binder, but pip may reuse this machine's download cache
    env.setdefault("PIP_CACHE_DIR", str(Path.home() / ".cache" / "pip"))

    def run(*args):
        subprocess.run(args, cwd=REPO, env=env, check=True)

    # What repo2docker does: requirements from the repository root, then postBuild.
    run(str(bin_dir / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("bash", "binder/postBuild")
    config = (tmp_path / ".jupyter" / "jupyter_server_config.py").read_text()
    assert "01_quickstart.ipynb" in config

    specs = subprocess.run([str(bin_dir / "jupyter"), "kernelspec", "list"], env=env,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "npu " in specs and str(venv) in specs
    exts = subprocess.run([str(bin_dir / "jupyter"), "labextension", "list"], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "npukernel-lab" in exts.stdout + exts.stderr

    notebooks = sorted(str(p) for p in (REPO / "tutorials").glob("[0-9][0-9]_*.ipynb"))
    run(str(bin_dir / "python"), "-c", RUN_TUTORIALS, *notebooks)
