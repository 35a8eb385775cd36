"""tutorials/02_inside_the_npu.ipynb in a real JupyterLab + Chromium."""

from tests.browser.helpers import (
    PANEL,
    STATUS,
    command,
    kernel_name,
    no_errors,
    open_notebook,
    run_all,
    wait_for_text,
)


def test_tutorial_02_in_the_browser(lab, page, screenshots):
    open_notebook(page, lab, "02_inside_the_npu.ipynb")
    assert kernel_name(page) == "npu"
    run_all(page)
    wait_for_text(page, "fusion saves")
    wait_for_text(page, "launches in")  # the last cell's profile table
    assert no_errors(page) == []

    # The ProfileView widget rendered its op table ...
    view = page.locator(".npk-profile").first
    view.scroll_into_view_if_needed()
    view.locator("tr[data-op='matmul']").wait_for()
    page.screenshot(path=screenshots / "02_profile_ops.png")
    # ... and its other tabs draw SVG.
    view.locator("button[data-tab='timeline']").click()
    view.locator("svg.npk-timeline rect").first.wait_for()
    view.locator("button[data-tab='roofline']").click()
    view.locator("svg.npk-roofline circle").first.wait_for()
    page.screenshot(path=screenshots / "02_profile_roofline.png")

    # Status bar: the kernel's default NPU.
    status = page.locator(STATUS)
    status.wait_for()
    assert status.inner_text().startswith("NPU 0 · ")

    # Side panel: devices and top ops of this kernel.
    command(page, "npukernel:open-panel")
    panel = page.locator(PANEL)
    panel.locator(".npk-device[data-device='npu:0']").wait_for()
    panel.locator(".npk-ops tbody tr").first.wait_for()
    assert "No running deployments" in panel.inner_text()
    page.screenshot(path=screenshots / "02_panel.png")
