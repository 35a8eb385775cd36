"""Devices and their registry: ``npu:0..N-1`` (virtual Ascend chips) and ``cpu``.

A :class:`Device` owns a chip profile, a memory tracker and the launch counters. Every
operator call ends in :meth:`Device.record_launch`, which costs the launch on the
profile (:func:`npukernel.device.cost.estimate`) and appends one record; the profiler,
the ``%npu`` magic, the widgets and the JupyterLab panel all read these counters
(:meth:`Device.usage`), and nothing else keeps its own.

A record is a plain tuple, fields in the order of :data:`RECORD_FIELDS`::

    (start_s, device, op, shapes, dtype, flops, bytes, unit, cpu_time_s, npu_time_s)

``start_s`` is on the ``time.perf_counter`` clock. A device keeps its last
:data:`MAX_RECORDS` records and per-op totals that are updated as launches happen.

Threads: ``record_launch`` runs on the thread that runs the kernels while ``usage()``
may be read from the Jupyter control thread. ``usage()`` works on a snapshot
(``list(deque)`` and ``dict.copy()`` run in C without releasing the GIL, so a
concurrent append cannot tear them). The per-op totals are updated without a lock, so
two threads launching the *same* op at the same instant could lose one increment of a
display counter; that is the price of a launch costing well under a microsecond.

Example:
    >>> from npukernel import device
    >>> dev = device.get("npu")
    >>> dev.record_launch("add", ((64, 64), (64, 64)), "float32", 4096, 49152, "vector", 2e-6)
    >>> dev.usage()["launches"] >= 1
    True
"""

from __future__ import annotations

import bisect
import operator
import threading
import time
from collections import deque
from typing import Any

from npukernel.device import cost, profiles
from npukernel.device.memory import MemoryTracker
from npukernel.device.profiles import ChipProfile
from npukernel.errors import DeviceError, DTypeError, ValueRangeError

#: Field names of a launch record tuple, in order.
RECORD_FIELDS: tuple[str, ...] = (
    "start_s",
    "device",
    "op",
    "shapes",
    "dtype",
    "flops",
    "bytes",
    "unit",
    "cpu_time_s",
    "npu_time_s",
)

#: How many launch records a device keeps (older ones drop off; totals keep counting).
MAX_RECORDS = 100_000

#: Upper bound for :func:`set_num_devices` (one process simulates them all).
MAX_DEVICES = 64

# Lists that receive every launch record while a profiler is active (see
# npukernel.profiler). Empty almost always, so record_launch pays one truthiness check.
_SINKS: list[list[tuple]] = []

_perf_counter = time.perf_counter


_start_of = operator.itemgetter(0)
_cpu_of = operator.itemgetter(8)
_npu_of = operator.itemgetter(9)


def _window(snap: list[tuple], lo: float) -> tuple[float, float, int]:
    """Busy CPU seconds, estimated NPU seconds and launches since ``lo``.

    Launches are recorded in order, so start times are sorted: bisect, then sum in C
    (a Python loop over 100k records took ~100 ms; this takes a few).
    """
    i = bisect.bisect_left(snap, lo, key=_start_of)
    tail = snap[i:]
    busy_cpu = sum(map(_cpu_of, tail))
    busy_npu = sum(map(_npu_of, tail))
    count = len(snap) - i
    if i > 0:  # the launch running across ``lo`` counts for its part inside the window
        start, *_, cpu_s, npu_s = snap[i - 1]
        inside = start + cpu_s - lo
        if inside > 0 and cpu_s > 0:
            busy_cpu += inside
            busy_npu += npu_s * inside / cpu_s
            count += 1
    return busy_cpu, busy_npu, count


class Device:
    """One virtual device: chip profile, memory tracker and launch counters.

    Get devices from the registry (:func:`get`) rather than constructing them.

    Attributes:
        name: ``"npu:0"``, ``"npu:1"``, ... or ``"cpu"``.
        kind: ``"npu"`` or ``"cpu"``.
        index: Device index (0 for cpu).
        memory: The device's :class:`~npukernel.device.memory.MemoryTracker`.

    Example:
        >>> from npukernel import device
        >>> npu = device.get("npu:0")
        >>> npu.kind, npu.profile.name
        ('npu', 'ascend910')
    """

    def __init__(self, kind: str, index: int, profile: ChipProfile) -> None:
        self.kind = kind
        self.index = index
        self.name = "cpu" if kind == "cpu" else f"{kind}:{index}"
        self._profile = profile
        self._cost_table = cost.table(profile)
        self._memory_limit: int | None = None
        self.memory = MemoryTracker(self._capacity(), name=self.name)
        self._records: deque[tuple] = deque(maxlen=MAX_RECORDS)
        self._per_op: dict[str, list] = {}
        self._since = _perf_counter()

    # -- configuration ------------------------------------------------------------------

    @property
    def profile(self) -> ChipProfile:
        """The chip profile; setting it re-costs future launches and resizes memory."""
        return self._profile

    @profile.setter
    def profile(self, profile: str | ChipProfile) -> None:
        self._profile = profiles.get(profile)
        self._cost_table = cost.table(self._profile)
        self.memory.capacity = self._capacity()

    def _capacity(self) -> int | None:
        if self._memory_limit is not None:
            return self._memory_limit
        # The host's RAM is not simulated: the cpu device is unlimited unless limited.
        return None if self.kind == "cpu" else self._profile.hbm_bytes

    def set_memory_limit(self, nbytes: int | None) -> None:
        """Limit the device's memory to ``nbytes`` (``None``: back to the profile's HBM).

        Live buffers stay; an allocation that would exceed the limit raises
        ``DeviceOutOfMemory``. Handy for teaching what out-of-memory looks like.

        Example:
            >>> from npukernel import device
            >>> dev = device.get("npu:0"); dev.set_memory_limit(1 << 20)
            >>> dev.memory.capacity
            1048576
            >>> dev.set_memory_limit(None)
        """
        if nbytes is not None and (isinstance(nbytes, bool) or nbytes < 0):
            raise ValueRangeError(
                f"For 'set_memory_limit', 'nbytes' must be >= 0 or None, but got {nbytes!r}."
            )
        self._memory_limit = None if nbytes is None else int(nbytes)
        self.memory.capacity = self._capacity()

    # -- the hot path -------------------------------------------------------------------

    def record_launch(
        self,
        op: str,
        shapes: tuple,
        dtype: str,
        flops: int,
        bytes_moved: int,
        unit: str,
        cpu_time_s: float,
    ) -> None:
        """Record one kernel launch that just finished; cost it on the chip profile.

        Args:
            op: Operator name, e.g. ``"matmul"``.
            shapes: Input shapes, e.g. ``((64, 128), (128, 10))``.
            dtype: Compute dtype name, e.g. ``"float32"``.
            flops: Operations done (MAC = 2).
            bytes_moved: Bytes read plus written.
            unit: ``"cube"``, ``"vector"``, ``"scalar"`` or ``"dma"``.
            cpu_time_s: Measured wall time of the CPU kernel.

        Example:
            >>> from npukernel import device
            >>> device.get("npu:0").record_launch(
            ...     "matmul", ((64, 128), (128, 10)), "float16", 163840, 19200, "cube", 1e-5)
        """
        # cost.estimate, inlined: a function call is a fifth of this method's budget.
        c = self._cost_table.get((unit, dtype))
        if c is None:
            c = self._constants(unit, dtype)
        compute_s = flops * c[1]
        memory_s = bytes_moved * c[2]
        npu_s = c[0] + (compute_s if compute_s > memory_s else memory_s)
        rec = (
            _perf_counter() - cpu_time_s,
            self.name,
            op,
            shapes,
            dtype,
            flops,
            bytes_moved,
            unit,
            cpu_time_s,
            npu_s,
        )
        self._records.append(rec)
        tot = self._per_op.get(op)
        if tot is None:
            self._per_op[op] = [1, cpu_time_s, npu_s, flops, bytes_moved, unit]
        else:
            tot[0] += 1
            tot[1] += cpu_time_s
            tot[2] += npu_s
            tot[3] += flops
            tot[4] += bytes_moved
        if _SINKS:
            for sink in _SINKS:
                sink.append(rec)

    def _constants(self, unit: str, dtype: Any) -> tuple[float, float, float]:
        # First launch of this (unit, dtype). The kernel has already run, so a dtype the
        # cost model does not know ("" for an op without outputs, a string dtype) is
        # costed as float32 rather than failing; a bad unit is a bug and raises.
        try:
            return cost.constants(self._profile, unit, dtype)
        except DTypeError:
            found = cost.constants(self._profile, unit, "float32")
            self._cost_table[(unit, dtype)] = found
            return found

    # -- reading the counters -----------------------------------------------------------

    def records(self, last: int | None = None) -> list[tuple]:
        """Return a snapshot of the kept launch records (fields: :data:`RECORD_FIELDS`).

        Args:
            last: Only the newest ``last`` records.

        Example:
            >>> from npukernel import device
            >>> isinstance(device.get("cpu").records(last=5), list)
            True
        """
        snap = list(self._records)
        return snap if last is None else snap[-last:] if last > 0 else []

    def op_totals(self) -> dict[str, dict[str, Any]]:
        """Per-op totals since the last reset: calls, times, FLOPs, bytes, unit.

        Example:
            >>> from npukernel import device
            >>> isinstance(device.get("cpu").op_totals(), dict)
            True
        """
        return {row.pop("op"): row for row in self._totals()}

    def _totals(self) -> list[dict[str, Any]]:
        # Plain ints and floats (an op's cost function may hand us numpy integers), so
        # the result is JSON-serialisable.
        return [
            {"op": op, "unit": t[5], "calls": int(t[0]), "cpu_time_s": float(t[1]),
             "npu_time_s": float(t[2]), "flops": int(t[3]), "bytes": int(t[4])}
            for op, t in ((op, list(t)) for op, t in self._per_op.copy().items())
        ]  # fmt: skip

    def usage(self, interval_s: float = 1.0, top: int = 5) -> dict[str, Any]:
        """Live counters as a JSON-serialisable dict (what the Jupyter panel shows).

        Args:
            interval_s: Window for utilisation: busy time of the launches that ran in
                the last ``interval_s`` seconds divided by the window.
            top: How many ops to list in ``top_ops`` and ``top_ops_npu``.

        Returns:
            ``device``, ``kind``, ``profile``, ``memory`` (``used``, ``total`` - None if
            unlimited -, ``peak``, ``live_buffers``), ``launches``, ``busy_cpu_s`` and
            ``busy_npu_s`` (totals), ``interval_s``, ``launches_in_interval``,
            ``utilization`` (measured CPU busy fraction in the window),
            ``npu_utilization`` (estimated NPU busy fraction for the same work, capped
            at 1), ``top_ops`` (by measured time) and ``top_ops_npu`` (by estimated
            time), each a list of ``{op, unit, calls, cpu_time_s, npu_time_s, flops,
            bytes}``, and ``timestamp`` (Unix seconds).

        Example:
            >>> from npukernel import device
            >>> u = device.get("npu:0").usage(interval_s=0.5)
            >>> sorted(u["memory"])
            ['live_buffers', 'peak', 'total', 'used']
        """
        now = _perf_counter()
        lo = now - interval_s
        busy_cpu, busy_npu, in_window = _window(list(self._records), lo)
        wall = min(interval_s, now - self._since)
        totals = self._totals()
        return {
            "device": self.name,
            "kind": self.kind,
            "profile": self._profile.name,
            "memory": self.memory.stats(),
            "launches": sum(t["calls"] for t in totals),
            "busy_cpu_s": sum(t["cpu_time_s"] for t in totals),
            "busy_npu_s": sum(t["npu_time_s"] for t in totals),
            "interval_s": interval_s,
            "launches_in_interval": in_window,
            "utilization": min(busy_cpu / wall, 1.0) if wall > 0 else 0.0,
            "npu_utilization": min(busy_npu / wall, 1.0) if wall > 0 else 0.0,
            "top_ops": sorted(totals, key=lambda t: -t["cpu_time_s"])[:top],
            "top_ops_npu": sorted(totals, key=lambda t: -t["npu_time_s"])[:top],
            "timestamp": time.time(),
        }

    def reset_counters(self) -> None:
        """Forget launch records and totals, and set the memory peak to current use.

        Example:
            >>> from npukernel import device
            >>> dev = device.get("cpu"); dev.reset_counters(); dev.usage()["launches"]
            0
        """
        self._records = deque(maxlen=MAX_RECORDS)
        self._per_op = {}
        self._since = _perf_counter()
        self.memory.reset_peak()

    def synchronize(self) -> None:
        """Wait for queued work; a no-op, since kernels run synchronously (API parity)."""

    def __repr__(self) -> str:
        return f"Device({self.name!r}, profile={self._profile.name!r})"


# -- the registry -----------------------------------------------------------------------

_lock = threading.RLock()
_npu_profile: ChipProfile = profiles.get("ascend910")
_cpu = Device("cpu", 0, profiles.get("host_cpu"))
_npus: list[Device] = [Device("npu", 0, _npu_profile)]
_default: Device = _npus[0]


def _lookup(name: str) -> Device | None:
    key = name.strip().lower().replace("ascend", "npu")
    if key in ("cpu", "cpu:0"):
        return _cpu
    if key == "npu":
        key = "npu:0"
    kind, _, index = key.partition(":")
    if kind == "npu" and index.isdigit() and int(index) < len(_npus):
        return _npus[int(index)]
    return None


def get(name: str | Device | None = None) -> Device:
    """Return a device by name; ``None`` gives the current default.

    ``"npu"`` means ``"npu:0"``; MindSpore's ``"Ascend"``/``"CPU"`` spellings work too.

    Raises:
        DeviceError: if no device has that name; the message lists the valid names.

    Example:
        >>> get("npu").name, get("CPU").name
        ('npu:0', 'cpu')
    """
    if name is None:
        return _default
    if isinstance(name, Device):
        return name
    found = _lookup(name) if isinstance(name, str) else None
    if found is None:
        valid = [d.name for d in devices()]
        raise DeviceError(
            f"For 'device.get', 'name' must be one of {valid} (or 'npu' for 'npu:0'), "
            f"but got {name!r}. Use device.set_num_devices(n) for more NPUs."
        )
    return found


def devices() -> list[Device]:
    """Return all devices: ``npu:0..N-1`` then ``cpu``.

    Example:
        >>> [d.name for d in devices()][-1]
        'cpu'
    """
    return [*_npus, _cpu]


def default() -> Device:
    """Return the default device (``npu:0`` unless changed with :func:`set_default`).

    Example:
        >>> default().kind in ("npu", "cpu")
        True
    """
    return _default


def set_default(name: str | Device) -> Device:
    """Make ``name`` the default device and return it.

    Example:
        >>> set_default("npu:0").name
        'npu:0'
    """
    global _default
    dev = get(name)
    if dev is not _cpu and dev not in _npus:
        raise DeviceError(
            f"For 'set_default', 'name' must be a registered device, but got {dev!r}."
        )
    _default = dev
    return dev


def set_num_devices(n: int) -> list[Device]:
    """Set how many NPUs exist (``npu:0..n-1``); existing ones keep their state.

    If the default device is removed, ``npu:0`` becomes the default.

    Raises:
        ValueRangeError: unless ``1 <= n <= MAX_DEVICES``.

    Example:
        >>> [d.name for d in set_num_devices(2)]
        ['npu:0', 'npu:1']
        >>> _ = set_num_devices(1)
    """
    global _default
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_DEVICES:
        raise ValueRangeError(
            f"For 'set_num_devices', 'n' must be an int in [1, {MAX_DEVICES}], but got {n!r}."
        )
    with _lock:
        del _npus[n:]
        _npus.extend(Device("npu", i, _npu_profile) for i in range(len(_npus), n))
        if _default is not _cpu and _default not in _npus:
            _default = _npus[0]
        return list(_npus)


def set_profile(name_or_profile: str | ChipProfile) -> ChipProfile:
    """Choose the chip profile of every NPU (now and created later); returns it.

    Memory capacities follow the new profile's HBM unless a device has an explicit
    :meth:`Device.set_memory_limit`.

    Example:
        >>> set_profile("ascend910b").ai_cores
        20
        >>> _ = set_profile("ascend910")
    """
    global _npu_profile
    profile = profiles.get(name_or_profile)
    with _lock:
        _npu_profile = profile
        for dev in _npus:
            dev.profile = profile
    return profile


def usage_all(interval_s: float = 1.0, top: int = 5) -> dict[str, Any]:
    """Return ``{"default": name, "devices": {name: Device.usage()}}`` for every device.

    Example:
        >>> sorted(usage_all()["devices"])[-1]
        'npu:0'
    """
    return {
        "default": _default.name,
        "devices": {d.name: d.usage(interval_s, top) for d in devices()},
    }


def attach_sink(sink: list) -> None:
    """Start appending every launch record of every device to ``sink`` (profiler hook).

    Example:
        >>> got = []; attach_sink(got); detach_sink(got)
    """
    with _lock:
        _SINKS.append(sink)


def detach_sink(sink: list) -> None:
    """Stop appending records to ``sink`` (by identity); unknown sinks are ignored.

    Example:
        >>> detach_sink([])
    """
    with _lock:
        for i, s in enumerate(_SINKS):
            if s is sink:
                del _SINKS[i]
                return
