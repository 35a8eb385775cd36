r"""A static PNG of a run's final curves, for notebooks saved without the widget state.

matplotlib draws with its Agg canvas directly (no pyplot, no backend switch), so it is
safe inside a running kernel.

Example:
    >>> from npukernel.notebook.curves import Curves
    >>> c = Curves(); c.add_step(1, loss=1.0); c.add_step(2, loss=0.5)
    >>> curves_png(c).startswith(b"\x89PNG")
    True
"""

from __future__ import annotations

import io
import math

from npukernel.notebook.curves import Curves, thin


def curves_png(curves: Curves, title: str = "", dpi: int = 80) -> bytes:
    """Render loss (train and validation) and validation metrics as a PNG.

    Args:
        curves: The run.
        title: A line above the plots (the monitor's summary).
        dpi: Resolution; the figure is 9 x 3 inches.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = [k for k in curves.epoch_values if k.startswith("eval_") and k != "eval_loss"]
    fig = Figure(figsize=(9, 3), dpi=dpi)
    FigureCanvasAgg(fig)
    ax_loss = fig.add_subplot(1, 2 if metrics else 1, 1)
    xs, ys = thin(curves.step, curves.values["loss"], 2000)
    ax_loss.plot(xs, ys, lw=0.8, color="#c7000b", label="train")
    if "eval_loss" in curves.epoch_values:
        ax_loss.plot(curves.epoch_step, curves.epoch_values["eval_loss"], "o-", color="#1f77b4",
                     label="validation")  # fmt: skip
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.legend(loc="upper right", fontsize=8)
    ax_loss.grid(alpha=0.3)
    if metrics:
        ax_m = fig.add_subplot(1, 2, 2)
        for key in metrics:
            vals = curves.epoch_values[key]
            if any(math.isfinite(v) for v in vals):
                ax_m.plot(curves.epoch, vals, "o-", label=key.removeprefix("eval_"))
        ax_m.set_xlabel("epoch")
        ax_m.set_ylabel("validation")
        ax_m.legend(loc="lower right", fontsize=8)
        ax_m.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
