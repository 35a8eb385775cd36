"""Each tutorial runs top to bottom on the "Python 3 (NPU)" kernel; none is committed with outputs."""

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

TUTORIALS = Path(__file__).resolve().parents[2] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))

#: Wall-time limits. The quickstart's target is 60 s on a 2-core machine (measured alone:
#: 57 s with the cores shared with other work at load ~6). In ``make test`` it runs beside
#: the rest of the suite (measured: 128 s), so the hard limit here is three times that.
#: The graph-mode lesson measured 7 s alone.
BUDGET_S = {
    "01_quickstart.ipynb": 180.0,
    "02_inside_the_npu.ipynb": 120.0,
    "03_graph_mode.ipynb": 90.0,
}

pytestmark = pytest.mark.xdist_group("jupyter")


def run_notebook(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="npu", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - started


def test_there_are_tutorials():
    assert {p.name for p in NOTEBOOKS} >= {
        "01_quickstart.ipynb",
        "02_inside_the_npu.ipynb",
        "03_graph_mode.ipynb",
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "npu"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom(path):
    nb, seconds = run_notebook(path)  # raises CellExecutionError on any error
    print(f"{path.name}: {seconds:.1f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert seconds < BUDGET_S.get(path.name, 120.0)
    mimes = {m for o in outputs for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes  # ProfileView / monitor
    if path.name.startswith("01_"):
        # The monitor's final output carries a static PNG for the saved notebook.
        assert "image/png" in mimes
