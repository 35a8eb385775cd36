"""ProfileView through its traitlets (ipywidgets' dummy comm: no browser, no kernel)."""

import numpy as np
import pytest

pytest.importorskip("anywidget")

import npukernel as npk  # noqa: E402
from npukernel.notebook import ProfileView  # noqa: E402
from npukernel.notebook.profile_data import UNIT_COLORS, profile_data  # noqa: E402


@pytest.fixture(scope="module")
def prof():
    x = npk.Tensor(np.ones((32, 32), np.float32))
    with npk.profiler.profile() as p:
        for _ in range(4):
            npk.ops.relu(npk.ops.matmul(x, x))
    return p


def test_table_lists_ops_measured_and_estimated(prof):
    view = ProfileView(prof, sort_by="npu_time_s")
    assert {r["op"] for r in view.ops} == {"matmul", "relu"}
    row = next(r for r in view.ops if r["op"] == "matmul")
    assert row["unit"] == "cube" and row["calls"] == 4
    assert row["cpu_time_s"] > 0 and row["npu_time_s"] > 0
    times = [r["npu_time_s"] for r in view.ops]
    assert times == sorted(times, reverse=True)


def test_timeline_has_one_bar_per_launch_by_unit(prof):
    view = ProfileView(prof)
    assert len(view.timeline) == 8
    starts = [r[0] for r in view.timeline]
    assert starts == sorted(starts) and starts[0] >= 0
    npu_starts = [r[2] for r in view.timeline]  # back to back
    assert npu_starts[1] == pytest.approx(npu_starts[0] + view.timeline[0][3])
    assert {r[4] for r in view.timeline} == {"cube", "vector"}
    assert view.colors == UNIT_COLORS


def test_timeline_keeps_the_longest_launches(prof):
    rows = profile_data(prof, max_launches=3)["timeline"]
    assert len(rows) == 3
    longest = sorted((r[1] for r in profile_data(prof)["timeline"]), reverse=True)[:3]
    assert sorted(r[1] for r in rows) == sorted(longest)


def test_roofline_against_the_chip(prof):
    rf = ProfileView(prof).roofline
    assert rf["chip"] == "ascend910" and rf["device"] == "npu:0"
    chip = npk.device.get("npu:0").profile
    assert rf["roofs"]["cube"] == chip.peak_flops("float32")
    assert rf["hbm_bandwidth"] == chip.hbm_bandwidth
    matmul = next(p for p in rf["points"] if p["op"] == "matmul")
    assert matmul["intensity"] > 1 and matmul["npu_flops_s"] > matmul["cpu_flops_s"] > 0


def test_static_fallback_for_saved_notebooks(prof):
    data, _ = ProfileView(prof)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "matmul" in data["text/html"]


def test_empty_profile():
    view = ProfileView(npk.profiler.profile())
    assert view.ops == [] and view.timeline == [] and view.roofline["points"] == []


def test_tab_is_synced_state(prof):
    view = ProfileView(prof)
    view.tab = "roofline"
    assert view.get_state()["tab"] == "roofline"


def test_npu_profile_magic_shows_the_widget():
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "npukernel")
    ip.user_ns.update(npk=npk, np=np)
    shown = []
    ip.display_pub.publish = lambda data, **kw: shown.append(data)
    ip.run_cell_magic("npu_profile", "", "y = npk.ops.relu(npk.Tensor(np.ones((4,), np.float32)))")
    assert any("application/vnd.jupyter.widget-view+json" in d for d in shown)
