"""tutorials/01_quickstart.ipynb in a real JupyterLab + Chromium, per issue 4.

While the training cell runs: the TrainingMonitor renders and its loss curve grows, and
the status bar shows NPU memory > 0. After the run: the side panel lists top ops.
"""

import pytest

from tests.browser.helpers import (
    PANEL,
    STATUS,
    command,
    kernel_name,
    no_errors,
    open_notebook,
    poll,
    run_all,
    wait_for_text,
)

pytestmark = pytest.mark.slow


def _loss_points(page) -> int:
    found = page.eval_on_selector_all(
        ".npk-monitor .npk-chart", "els => els.length ? +els[0].dataset.points : -1"
    )
    return found


def _monitor_status(page) -> str | None:
    return page.evaluate(
        "() => { const e = document.querySelector('.npk-monitor .npk-status-word');"
        " return e ? e.dataset.status : null; }"
    )


def _status_bytes(page) -> int:
    return int(page.eval_on_selector(STATUS, "e => e.dataset.npuUsed || '0'"))


def test_quickstart_in_the_browser(lab, page, screenshots):
    open_notebook(page, lab, "01_quickstart.ipynb")
    assert kernel_name(page) == "npu"
    run_all(page)

    # The monitor appears with the training cell and its curve grows while it runs.
    page.wait_for_selector(".npk-monitor .npk-chart", timeout=180_000)
    first = poll(lambda: _loss_points(page) > 0 and _loss_points(page), timeout_s=120)
    assert first, "the loss curve never got a point"
    assert _monitor_status(page) == "running"
    seen_bytes = poll(lambda: _status_bytes(page) > 0 and _status_bytes(page), timeout_s=30)
    assert seen_bytes, "the status bar never showed NPU memory in use during training"
    status_text = page.inner_text(STATUS)
    page.locator(".npk-monitor").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "01_training.png")
    grown = poll(lambda: _loss_points(page) > first, timeout_s=120)
    assert grown, f"the loss curve did not grow beyond {first} points"
    assert _monitor_status(page) in ("running", "done")
    assert status_text.startswith("NPU 0 · ")

    # The run finishes; the rest of the notebook runs without errors.
    poll(lambda: _monitor_status(page) == "done", timeout_s=300)
    wait_for_text(page, "launches in", timeout_s=300)  # the %%npu_profile cell
    wait_for_text(page, "Top ops on npu:0", timeout_s=120)  # %npu, the last cell
    assert no_errors(page) == []
    page.locator(".npk-monitor").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "01_trained.png")

    # The side panel lists the kernel's top ops.
    command(page, "npukernel:open-panel")
    panel = page.locator(PANEL)
    panel.locator(".npk-ops tbody tr").first.wait_for()
    ops = panel.locator(".npk-ops").first.inner_text()
    assert "conv2d" in ops or "matmul" in ops
    page.screenshot(path=screenshots / "01_panel.png")
