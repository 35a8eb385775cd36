"""``ProfileView``: a profile as a widget: per-op table, timeline by unit, roofline.

::

    with npk.profiler.profile() as prof:
        net(x)
    ProfileView(prof)          # or: %%npu_profile at the top of a cell

Three tabs, drawn in the browser from plain data (:mod:`npukernel.notebook.profile_data`):

- **ops**: calls, measured CPU ms, estimated NPU ms and their ratio for each op;
- **timeline**: every launch as a bar coloured by unit (cube / vector / scalar / dma),
  measured CPU time on top, the estimated NPU time of the same launches below;
- **roofline**: the chip's HBM slope and Cube/Vector roofs, each op placed at its
  arithmetic intensity and estimated (filled) and measured-on-CPU (hollow) FLOP/s.

A saved notebook opened without the kernel shows the op table as HTML instead.

Example:
    >>> from npukernel import profiler
    >>> view = ProfileView(profiler.profile())
    >>> view.ops
    []
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from npukernel.notebook.profile_data import MAX_TIMELINE, profile_data
from npukernel.profiler import Profile


class ProfileView(anywidget.AnyWidget):
    """Per-op table, timeline coloured by unit and roofline of one profile.

    Args:
        profile: What :func:`npukernel.profiler.profile` recorded.
        sort_by: Op-table order (a :meth:`~npukernel.profiler.Profile.summary` column).
        top: How many ops the table lists.
        max_launches: Most launches drawn on the timeline.

    Example:
        >>> from npukernel import profiler
        >>> ProfileView(profiler.profile(), sort_by="npu_time_s").sort_by
        'npu_time_s'
    """

    _esm = Path(__file__).with_name("static") / "profile_view.js"
    _css = Path(__file__).with_name("static") / "widgets.css"

    headline = traitlets.Unicode("").tag(sync=True)
    sort_by = traitlets.Unicode("cpu_time_s").tag(sync=True)
    ops = traitlets.List([]).tag(sync=True)
    timeline = traitlets.List([]).tag(sync=True)
    roofline = traitlets.Dict({}).tag(sync=True)
    colors = traitlets.Dict({}).tag(sync=True)
    totals = traitlets.Dict({}).tag(sync=True)
    tab = traitlets.Unicode("ops").tag(sync=True)

    def __init__(
        self,
        profile: Profile,
        sort_by: str = "cpu_time_s",
        top: int | None = 20,
        max_launches: int = MAX_TIMELINE,
        **kwargs: Any,
    ) -> None:
        data = profile_data(profile, sort_by=sort_by, top=top, max_launches=max_launches)
        super().__init__(
            headline=data["headline"],
            sort_by=sort_by,
            ops=data["ops"],
            timeline=data["timeline"],
            roofline=data["roofline"],
            colors=data["colors"],
            totals=data["totals"],
            **kwargs,
        )
        self.profile = profile
        self._top = top

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):  # (data, metadata)
            data, meta = bundle
            data["text/html"] = self._static_html()
            return (data, meta)
        if isinstance(bundle, dict):
            bundle["text/html"] = self._static_html()
        return bundle

    def _static_html(self) -> str:
        # What a viewer without the widget state (nbconvert, GitHub) shows.
        import html

        frame = self.profile.summary(sort_by=self.sort_by, top=self._top)
        body = "" if frame.empty else frame.to_html(float_format=lambda v: f"{v:.4g}")
        return f"<div><p><b>{html.escape(self.headline)}</b></p>{body}</div>"
