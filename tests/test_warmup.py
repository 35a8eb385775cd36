"""``npukernel.warmup`` writes the package's bytecode, so imports skip compiling it."""

import os
import subprocess
import sys
from pathlib import Path

import npukernel
from npukernel.warmup import compile_bytecode


def test_import_reads_the_bytecode_warm_wrote():
    assert compile_bytecode()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # as in many container images
    out = subprocess.run([sys.executable, "-v", "-c", "import npukernel"], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    pkg = Path(npukernel.__file__).resolve().parent
    loaded = [ln for ln in out.stderr.splitlines() if ln.startswith("# code object from")]
    ours = [ln for ln in loaded if str(pkg) in ln]
    assert ours, "import npukernel read no bytecode of its own"
    assert all("__pycache__" in ln for ln in ours), ours[:3]  # none compiled from source


def test_compile_bytecode_reports_a_module_it_cannot_compile(tmp_path, capsys):
    (tmp_path / "good.py").write_text("X = 1\n")
    assert compile_bytecode(tmp_path)
    assert list((tmp_path / "__pycache__").glob("good.*.pyc"))
    (tmp_path / "bad.py").write_text("def (:\n")
    assert not compile_bytecode(tmp_path)
    assert capsys.readouterr().out == ""  # the failure is a return value, not noise
