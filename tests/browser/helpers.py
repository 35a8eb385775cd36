"""Driving JupyterLab from playwright: open a notebook, run it, read outputs."""

import time

#: The status-bar item and side panel of lab_ext (see lab_ext/src).
STATUS = ".npk-status"
PANEL = "#npukernel-panel"


def open_notebook(page, lab, name: str) -> None:
    """Open ``name`` alone in a fresh workspace and wait until its kernel is connected.

    A fresh workspace per notebook, or JupyterLab restores the notebooks that earlier
    tests left open and "the current notebook" may be one of them.
    """
    workspace = "test-" + name.split(".")[0].replace("_", "-")
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{name}?reset")
    page.wait_for_function(
        """(name) => {
            const app = window.jupyterapp;
            const nb = app && app.shell.currentWidget;
            if (!nb || !nb.context || nb.context.path !== name) return false;
            const k = nb.sessionContext.session && nb.sessionContext.session.kernel;
            return k && k.connectionStatus === 'connected';
        }""",
        arg=name,
        timeout=120_000,
    )
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)


def command(page, name: str) -> None:
    """Start a JupyterLab command (the app is exposed with --LabApp.expose_app_in_browser).

    Not awaited: ``notebook:run-all-cells`` resolves only when every cell has run, and
    the tests want to look at the page while cells run.
    """
    page.evaluate("(c) => { void window.jupyterapp.commands.execute(c); }", name)


def run_all(page) -> None:
    command(page, "notebook:run-all-cells")


def kernel_name(page) -> str:
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.name"
    )


def wait_for_text(page, text: str, timeout_s: float = 120) -> None:
    """Wait until an output area contains ``text`` (outputs, not the kernel indicator)."""
    page.wait_for_function(
        """(t) => [...document.querySelectorAll('.jp-OutputArea-output')]
                .some(e => e.textContent.includes(t))""",
        arg=text,
        timeout=timeout_s * 1000,
    )


def no_errors(page) -> list[str]:
    """Tracebacks shown in outputs (empty when every cell ran cleanly)."""
    return page.eval_on_selector_all(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
        "els => els.map(e => e.textContent).filter(t => t.includes('Traceback') "
        "|| t.includes('Error'))",
    )


def poll(fn, timeout_s: float = 60, every_s: float = 0.25):
    """Call ``fn`` until it returns something truthy; return that (or the last value)."""
    deadline = time.monotonic() + timeout_s
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(every_s)
        value = fn()
    return value
