"""``SummaryCollector``: write the run's metrics to a netCDF file for later analysis.

MindSpore's ``SummaryCollector`` writes event files for MindInsight; here the summary is
an ``xarray.Dataset`` (the same layout as :class:`History`), sampled every
``collect_freq`` steps and rewritten atomically at the end of every epoch and of
training, so it can be opened at any time with ``xarray.open_dataset``.

Example:
    >>> import tempfile
    >>> from npukernel.train import SummaryCollector
    >>> collector = SummaryCollector(tempfile.mkdtemp(), collect_freq=10)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from npukernel.train.callback._callback import Callback, RunContext
from npukernel.train.callback._history import RunRecord


class SummaryCollector(Callback):
    """Collect loss, learning rate, throughput and metrics into ``summary_dir``.

    The file is ``{summary_dir}/summary.{YYYYmmdd-HHMMSS}.{pid}.nc`` (one per run; its
    path is on ``.summary_file`` and on ``cb_params.summary_file``).

    Args:
        summary_dir: Directory for the summary file (created if missing).
        collect_freq: Record every this many steps.
        custom_lineage_data: Extra ``name -> str | int | float`` stored as attributes.
        **kwargs: Other MindSpore options (``collect_specified_data``,
            ``keep_default_action``, ``max_file_size``...) are accepted and ignored.

    Raises:
        ValueError: if ``collect_freq`` is not a positive int.

    Example:
        >>> import tempfile
        >>> SummaryCollector(tempfile.mkdtemp()).collect_freq
        10
    """

    def __init__(self, summary_dir: str | os.PathLike, collect_freq: int = 10,
                 custom_lineage_data: Mapping[str, Any] | None = None, **kwargs: Any) -> None:  # fmt: skip
        if isinstance(collect_freq, bool) or not isinstance(collect_freq, int) or collect_freq < 1:
            raise ValueError(
                f"For 'SummaryCollector', 'collect_freq' must be a positive int, but got {collect_freq!r}."
            )
        self.summary_dir = os.path.abspath(os.fspath(summary_dir))
        self.collect_freq = collect_freq
        self.custom_lineage_data = dict(custom_lineage_data or {})
        self.summary_file: str | None = None
        self._record = RunRecord(every=collect_freq)

    def on_train_begin(self, run_context: RunContext) -> None:
        """Open a new summary file name and note the run's configuration."""
        cb = run_context.original_args()
        os.makedirs(self.summary_dir, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.summary_file = os.path.join(self.summary_dir, f"summary.{stamp}.{os.getpid()}.nc")
        self._record.clear()
        self._record.begin(cb)
        self._record.attrs.update(collect_freq=self.collect_freq)
        self._record.attrs.update({f"lineage_{k}": v for k, v in self.custom_lineage_data.items()})
        cb["summary_file"] = self.summary_file

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Record every ``collect_freq`` steps."""
        self._record.step(run_context.original_args())

    def on_train_epoch_end(self, run_context: RunContext) -> None:
        """Record the epoch and rewrite the file."""
        self._record.epoch(run_context.original_args())
        self.flush()

    def on_train_end(self, run_context: RunContext) -> None:
        """Write the final file."""
        self.flush()

    def flush(self) -> None:
        """Write what has been collected so far (atomically)."""
        if self.summary_file is not None:
            self._record.to_netcdf(self.summary_file)
