"""``ModelCheckpoint`` and ``CheckpointConfig``: save training state while training.

Each checkpoint holds the network's parameters and the optimizer's state (moments,
global step, learning rate) plus the run position, so ``Model.train(...,
resume_from=directory)`` continues exactly where it stopped. Files are named as in
MindSpore, ``{prefix}-{epoch}_{step_in_epoch}.ckpt``; each is written atomically, then
``latest.json`` is pointed at it, then files beyond ``keep_checkpoint_max`` are deleted,
so a kill at any moment leaves a complete newest checkpoint.

Example:
    >>> from npukernel.train import ModelCheckpoint, CheckpointConfig
    >>> config = CheckpointConfig(save_checkpoint_steps=100, keep_checkpoint_max=3)
    >>> # model.train(2, ds, callbacks=[ModelCheckpoint("lenet", "ckpt", config)])
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

from npukernel.train._state import run_position, save_train_state, write_latest
from npukernel.train.callback._callback import Callback, RunContext, logger


def _non_negative_int(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"For 'CheckpointConfig', '{name}' must be an int >= 0, but got {value!r}."
        )
    return value


class CheckpointConfig:
    """When and what ``ModelCheckpoint`` saves (MindSpore's ``CheckpointConfig``).

    Args:
        save_checkpoint_steps: Save every this many steps (0: use seconds).
        save_checkpoint_seconds: Save every this many seconds (when steps is 0).
        keep_checkpoint_max: Keep at most this many files (oldest deleted first).
        keep_checkpoint_per_n_minutes: When ``keep_checkpoint_max`` is 0, keep one file
            per this many minutes instead.
        integrated_save: Accepted for compatibility (one device: always whole).
        async_save: Accepted for compatibility; checkpoints are written synchronously,
            so ``latest.json`` never names a file still being written.
        saved_network: Save only this cell's parameters (no optimizer state: such files
            cannot resume training).
        append_info: Extra entries: ``"epoch_num"``, ``"step_num"`` and/or one dict of
            ``name -> int | float | bool | str | Tensor``.
        **kwargs: Other MindSpore options (``enc_key``...) are accepted; encryption is
            not supported.

    Raises:
        ValueError: for negative counts, or when neither steps nor seconds is set.

    Example:
        >>> CheckpointConfig(save_checkpoint_steps=10).save_checkpoint_steps
        10
    """

    def __init__(
        self,
        save_checkpoint_steps: int = 1,
        save_checkpoint_seconds: int = 0,
        keep_checkpoint_max: int = 5,
        keep_checkpoint_per_n_minutes: int = 0,
        integrated_save: bool = True,
        async_save: bool = False,
        saved_network: Any = None,
        append_info: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.save_checkpoint_steps = _non_negative_int(
            save_checkpoint_steps, "save_checkpoint_steps"
        )
        self.save_checkpoint_seconds = _non_negative_int(
            save_checkpoint_seconds, "save_checkpoint_seconds"
        )
        self.keep_checkpoint_max = _non_negative_int(keep_checkpoint_max, "keep_checkpoint_max")
        self.keep_checkpoint_per_n_minutes = _non_negative_int(
            keep_checkpoint_per_n_minutes, "keep_checkpoint_per_n_minutes"
        )
        if not self.save_checkpoint_steps and not self.save_checkpoint_seconds:
            raise ValueError(
                "For 'CheckpointConfig', 'save_checkpoint_steps' and 'save_checkpoint_seconds' "
                "cannot both be 0."
            )
        if kwargs.get("enc_key") is not None:
            raise NotImplementedError("For 'CheckpointConfig', encryption is not supported.")
        self.integrated_save = integrated_save
        self.async_save = bool(async_save)
        self.saved_network = saved_network
        self.append_info = list(append_info or [])
        for item in self.append_info:
            if not (item in ("epoch_num", "step_num") or isinstance(item, dict)):
                raise ValueError(
                    "For 'CheckpointConfig', 'append_info' items must be 'epoch_num', 'step_num' "
                    f"or a dict, but got {item!r}."
                )

    def get_checkpoint_policy(self) -> dict[str, int]:
        """The saving and keeping policy as a dict."""
        return {
            "save_checkpoint_steps": self.save_checkpoint_steps,
            "save_checkpoint_seconds": self.save_checkpoint_seconds,
            "keep_checkpoint_max": self.keep_checkpoint_max,
            "keep_checkpoint_per_n_minutes": self.keep_checkpoint_per_n_minutes,
        }


class ModelCheckpoint(Callback):
    """Save the network and optimizer state during training (MindSpore's ``ModelCheckpoint``).

    Args:
        prefix: File name prefix. As in MindSpore, if ``{prefix}-*.ckpt`` files already
            exist in ``directory``, the prefix becomes ``{prefix}_1``, ``{prefix}_2``...
        directory: Where to save (created if missing); the current directory when None.
        config: A :class:`CheckpointConfig` (the default saves every step, keeps 5).

    Raises:
        TypeError: if ``config`` is not a CheckpointConfig.
        ValueError: for an empty prefix or one containing ``/``.

    Example:
        >>> import tempfile
        >>> cb = ModelCheckpoint("net", tempfile.mkdtemp())
        >>> cb.latest_ckpt_file_name is None
        True
    """

    def __init__(self, prefix: str = "CKP", directory: str | None = None,
                 config: CheckpointConfig | None = None, **kwargs: Any) -> None:  # fmt: skip
        if not isinstance(prefix, str) or not prefix or "/" in prefix or os.sep in prefix:
            raise ValueError(
                f"For 'ModelCheckpoint', 'prefix' must be a file name prefix, got {prefix!r}."
            )
        if config is None:
            config = CheckpointConfig()
        if not isinstance(config, CheckpointConfig):
            raise TypeError(
                f"For 'ModelCheckpoint', 'config' must be a CheckpointConfig, but got {type(config).__name__}."
            )
        self.directory = os.path.abspath(
            os.fspath(directory) if directory is not None else os.getcwd()
        )
        os.makedirs(self.directory, exist_ok=True)
        self._config = config
        self._prefix = self._unique_prefix(prefix)
        self._latest: str | None = None
        self._last_step = -1
        self._last_time = time.monotonic()
        self._kept_at: list[tuple[float, str]] = []  # (time, path) of files kept per n minutes

    def _unique_prefix(self, prefix: str) -> str:
        names = os.listdir(self.directory)
        candidate, n = prefix, 0
        while any(re.fullmatch(re.escape(candidate) + r"-\d+_\d+\.ckpt", f) for f in names):
            n += 1
            candidate = f"{prefix}_{n}"
        return candidate

    @property
    def prefix(self) -> str:
        """The prefix in use (possibly with a ``_n`` suffix)."""
        return self._prefix

    @property
    def latest_ckpt_file_name(self) -> str | None:
        """Path of the newest checkpoint this callback wrote."""
        return self._latest

    def on_train_begin(self, run_context: RunContext) -> None:
        """Start the clock for ``save_checkpoint_seconds``."""
        self._last_time = time.monotonic()
        self._last_step = run_context.original_args().cur_step_num

    def on_train_step_end(self, run_context: RunContext) -> None:
        """Save when the step or time interval has passed."""
        cb = run_context.original_args()
        cfg = self._config
        if cfg.save_checkpoint_steps:
            due = cb.cur_step_num - self._last_step >= cfg.save_checkpoint_steps
        else:
            due = time.monotonic() - self._last_time >= cfg.save_checkpoint_seconds
        if due:
            self.save(cb)

    def on_train_end(self, run_context: RunContext) -> None:
        """Save the final state unless this step was just saved."""
        cb = run_context.original_args()
        if cb.cur_step_num != self._last_step and cb.get("cur_step_in_epoch"):
            self.save(cb)

    def save(self, cb: Any) -> str:
        """Save now (``Model`` also calls this when training is interrupted).

        Args:
            cb: The run's ``cb_params``.

        Returns:
            The path written.
        """
        if cb.cur_step_num == self._last_step and self._latest is not None:
            return self._latest
        name = f"{self._prefix}-{cb.cur_epoch_num}_{cb.get('cur_step_in_epoch') or 0}.ckpt"
        path = os.path.join(self.directory, name)
        append: dict[str, Any] = {}
        for item in self._config.append_info:
            if item == "epoch_num":
                append["epoch_num"] = int(cb.cur_epoch_num)
            elif item == "step_num":
                append["step_num"] = int(cb.cur_step_num)
            else:
                append.update(item)
        save_train_state(path, cb, self._config.saved_network, append)
        write_latest(self.directory, path, run_position(cb))
        self._latest = path
        self._last_step = cb.cur_step_num
        self._last_time = time.monotonic()
        cb["last_checkpoint"] = path
        self._remove_old(path)
        return path

    def _remove_old(self, newest: str) -> None:
        cfg = self._config
        pattern = re.compile(re.escape(self._prefix) + r"-(\d+)_(\d+)\.ckpt")
        found = []
        for f in os.listdir(self.directory):
            m = pattern.fullmatch(f)
            if m:
                found.append(((int(m[1]), int(m[2])), os.path.join(self.directory, f)))
        found.sort()
        files = [p for _, p in found if p != newest]
        if cfg.keep_checkpoint_max:
            doomed = files[: max(len(files) - (cfg.keep_checkpoint_max - 1), 0)]
        elif cfg.keep_checkpoint_per_n_minutes:
            now = time.monotonic()
            window = cfg.keep_checkpoint_per_n_minutes * 60
            if not self._kept_at or now - self._kept_at[-1][0] >= window:
                self._kept_at.append((now, newest))
            kept = {p for _, p in self._kept_at}
            doomed = [p for p in files if p not in kept]
        else:
            doomed = []
        for path in doomed:
            try:
                os.remove(path)
            except OSError as exc:  # pragma: no cover - someone else removed it
                logger.debug("could not remove old checkpoint %s: %s", path, exc)
