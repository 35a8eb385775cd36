"""Chip profiles: the public figures of an Ascend chip (or the host CPU) as data.

A :class:`ChipProfile` is a frozen record of what one chip has: AI cores, clock, Cube and
Vector throughput, on-chip buffers, HBM capacity and bandwidth, power. The cost model
(:mod:`npukernel.device.cost`) turns it into an estimated NPU time for every kernel launch.

Every figure carries its source in a comment next to it (see
``shared/reference/ASCEND.md`` for the full citations). Figures that no primary source
confirms are listed in the profile's ``assumed`` set and printed with a ``*``; change them
with :meth:`ChipProfile.replace`::

    >>> from npukernel.device import profiles
    >>> p = profiles.get("ascend910").replace(hbm_bandwidth=1.0e12)
    >>> round(p.peak_flops("float16") / 1e12)
    256

Conventions: one MAC = 2 FLOPs; ``peak_flops`` counts FLOPs (int8: integer ops).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from npukernel.device import dtypes
from npukernel.errors import DeviceError

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

_CUBE_FULL_RATE = frozenset({"float16", "bfloat16"})
_CUBE_INT8 = frozenset({"int8", "uint8"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChipProfile:
    """The figures of one chip that the cost model and the memory tracker need.

    Attributes:
        name: Registry key, e.g. ``"ascend910"``.
        description: One line for humans.
        ai_cores: AI cores with a Cube unit.
        clock_hz: Core clock.
        cube_fp16_macs_per_cycle: Cube MACs per cycle per core for fp16/bf16 (16x16x16).
        cube_int8_macs_per_cycle: Cube MACs per cycle per core for int8 (16x32x16).
        cube_fp32_ratio: fp32 Cube rate as a fraction of the fp16 rate. Always an
            assumption: the 910's Cube has no fp32 mode (frameworks cast to fp16), the
            910B runs fp32/hf32 at a reduced rate.
        vector_cores: Cores with a Vector unit (the 910B splits cube and vector cores).
        vector_bytes_per_cycle: Vector unit width in bytes per cycle per core (2048 bit).
        scalar_ops_per_cycle: Scalar-unit operations per cycle per core [assumption].
        hbm_bytes: Device memory capacity.
        hbm_bandwidth: Device memory bandwidth in bytes/s.
        l2_bytes: Chip-level L2 cache.
        ub_bytes: Unified Buffer per core (Vector/Scalar operands).
        l1_bytes: L1 buffer per core.
        l0a_bytes: L0A (Cube input A) per core.
        l0b_bytes: L0B (Cube input B) per core.
        l0c_bytes: L0C (Cube accumulator) per core.
        power_w: Power in watts.
        launch_overhead_s: Fixed cost of one kernel launch [assumption].
        assumed: Names of the fields above that are assumptions or unverified.

    Example:
        >>> p = get("ascend910")
        >>> p.ai_cores, p.cube_fp16_macs_per_cycle
        (32, 4096)
    """

    name: str
    description: str = ""
    ai_cores: int
    clock_hz: float
    cube_fp16_macs_per_cycle: int = 16 * 16 * 16
    cube_int8_macs_per_cycle: int = 16 * 32 * 16
    cube_fp32_ratio: float = 0.25
    vector_cores: int
    vector_bytes_per_cycle: int = 256
    scalar_ops_per_cycle: float = 1.0
    hbm_bytes: int
    hbm_bandwidth: float
    l2_bytes: int
    ub_bytes: int
    l1_bytes: int
    l0a_bytes: int
    l0b_bytes: int
    l0c_bytes: int
    power_w: float
    launch_overhead_s: float = 5e-6
    assumed: frozenset[str] = frozenset()

    def replace(self, **changes: Any) -> ChipProfile:
        """Return a copy with some figures changed (``dataclasses.replace``).

        A changed field is no longer marked as assumed: it is now the user's figure.

        Example:
            >>> get("ascend910").replace(name="my910", hbm_bytes=16 * GiB).hbm_bytes
            17179869184
        """
        if "assumed" not in changes:
            changes["assumed"] = self.assumed - changes.keys()
        return dataclasses.replace(self, **changes)

    def peak_flops(self, dtype: Any = "float16") -> float:
        """Peak Cube throughput in FLOP/s (int8: op/s) for ``dtype``, all cores.

        fp16/bf16 run at the full rate, int8/uint8 at the int8 MAC rate, fp32 at
        ``cube_fp32_ratio`` of the fp16 rate. Dtypes the Cube does not have (float64,
        int16/32/64, ...) are costed at the fp32 rate scaled by ``4 / itemsize``
        [assumption: they would be emulated].

        Example:
            >>> round(get("ascend910").peak_flops("int8") / 1e12)
            512
        """
        name = dtypes.canonical(dtype)
        fp16 = 2.0 * self.cube_fp16_macs_per_cycle * self.ai_cores * self.clock_hz
        if name in _CUBE_FULL_RATE:
            return fp16
        if name in _CUBE_INT8:
            return 2.0 * self.cube_int8_macs_per_cycle * self.ai_cores * self.clock_hz
        return fp16 * self.cube_fp32_ratio * 4.0 / dtypes.ITEMSIZE[name]

    def vector_flops(self, dtype: Any = "float16") -> float:
        """Peak Vector throughput in element-ops/s for ``dtype``, all vector cores.

        The model: one operation per element per cycle, ``vector_bytes_per_cycle /
        itemsize`` elements per cycle per core (256 B/cycle: 128 fp16 or 64 fp32 lanes).

        Example:
            >>> round(get("ascend910").vector_flops("float32") / 1e12, 1)
            2.0
        """
        lanes = self.vector_bytes_per_cycle / dtypes.itemsize(dtype)
        return lanes * self.vector_cores * self.clock_hz

    def scalar_ops(self) -> float:
        """Peak Scalar-unit throughput in op/s, all cores [assumption].

        Example:
            >>> get("ascend910").scalar_ops() > 0
            True
        """
        return self.scalar_ops_per_cycle * self.ai_cores * self.clock_hz

    def ridge_point(self, dtype: Any = "float16") -> float:
        """FLOPs per HBM byte above which a Cube kernel is compute-bound.

        Example:
            >>> get("ascend910").ridge_point() > 100
            True
        """
        return self.peak_flops(dtype) / self.hbm_bandwidth

    def describe(self) -> str:
        """Return a readable table of the profile (``*`` marks assumed figures).

        Example:
            >>> print(get("ascend310").describe())  # doctest: +ELLIPSIS
            Chip profile 'ascend310': Huawei Ascend 310 ...
        """
        return _describe(self)

    def __str__(self) -> str:
        return self.describe()


def _mark(profile: ChipProfile, *fields: str) -> str:
    return " *" if profile.assumed.intersection(fields) else ""


def _size(nbytes: float) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{nbytes:.0f} B"


def _rate(ops_per_s: float, unit: str) -> str:
    if ops_per_s >= 1e12:
        return f"{ops_per_s / 1e12:.1f} T{unit}"
    return f"{ops_per_s / 1e9:.0f} G{unit}"


def _describe(p: ChipProfile) -> str:
    # A derived row is marked when the figure it scales by is assumed; the clock alone
    # does not mark the peaks, because the 910's and 310's clocks are derived *from*
    # their published peaks.
    vec16, vec32 = p.vector_flops("float16"), p.vector_flops("float32")
    rows = [
        ("AI cores (cube / vector)", f"{p.ai_cores} / {p.vector_cores}", ("ai_cores",)),
        ("clock", f"{p.clock_hz / 1e9:.3f} GHz", ("clock_hz",)),
        ("cube MACs/cycle/core", f"fp16 {p.cube_fp16_macs_per_cycle}, "
         f"int8 {p.cube_int8_macs_per_cycle}", ("cube_fp16_macs_per_cycle",)),
        ("peak fp16 (cube)", _rate(p.peak_flops("float16"), "FLOPS"),
         ("cube_fp16_macs_per_cycle",)),
        ("peak int8 (cube)", _rate(p.peak_flops("int8"), "OPS"),
         ("cube_int8_macs_per_cycle",)),
        ("peak fp32 (cube)", _rate(p.peak_flops("float32"), "FLOPS"), ("cube_fp32_ratio",)),
        ("vector fp16 / fp32", f"{_rate(vec16, 'FLOPS')} / {_rate(vec32, 'FLOPS')}",
         ("vector_bytes_per_cycle",)),
        ("scalar", _rate(p.scalar_ops(), "OPS"), ("scalar_ops_per_cycle",)),
        ("HBM", _size(p.hbm_bytes), ("hbm_bytes",)),
        ("HBM bandwidth", f"{p.hbm_bandwidth / 1e9:.0f} GB/s", ("hbm_bandwidth",)),
        ("ridge point fp16", f"{p.ridge_point('float16'):.0f} FLOP/byte",
         ("hbm_bandwidth",)),
        ("L2", _size(p.l2_bytes), ("l2_bytes",)),
        ("L1 / UB per core", f"{_size(p.l1_bytes)} / {_size(p.ub_bytes)}",
         ("l1_bytes", "ub_bytes")),
        ("L0A / L0B / L0C per core",
         f"{_size(p.l0a_bytes)} / {_size(p.l0b_bytes)} / {_size(p.l0c_bytes)}",
         ("l0a_bytes", "l0b_bytes", "l0c_bytes")),
        ("power", f"{p.power_w:g} W", ("power_w",)),
        ("launch overhead", f"{p.launch_overhead_s * 1e6:g} us", ("launch_overhead_s",)),
    ]  # fmt: skip
    lines = [f"Chip profile '{p.name}': {p.description}"]
    lines += [f"  {label:<26}{value}{_mark(p, *fields)}" for label, value, fields in rows]
    if p.assumed:
        lines.append("  * assumption or unverified figure; change with profile.replace(...)")
    return "\n".join(lines)


_REGISTRY: dict[str, ChipProfile] = {}


def register(profile: ChipProfile) -> ChipProfile:
    """Add (or replace) a profile in the registry under ``profile.name``.

    Example:
        >>> _ = register(get("ascend910").replace(name="ascend910-slowhbm", hbm_bandwidth=6e11))
        >>> "ascend910-slowhbm" in names()
        True
    """
    if not isinstance(profile, ChipProfile):
        raise DeviceError(
            f"For 'profiles.register', 'profile' must be a ChipProfile, "
            f"but got {type(profile).__name__}."
        )
    _REGISTRY[profile.name] = profile
    return profile


def get(name: str | ChipProfile) -> ChipProfile:
    """Return the registered profile called ``name`` (a profile is returned as is).

    Raises:
        DeviceError: if no profile has that name; the message lists the names.

    Example:
        >>> get("ascend910b").ai_cores
        20
    """
    if isinstance(name, ChipProfile):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise DeviceError(
            f"For 'profiles.get', 'name' must be one of {names()}, but got {name!r}."
        ) from None


def names() -> list[str]:
    """Return the names of all registered profiles, sorted.

    Example:
        >>> "ascend910" in names()
        True
    """
    return sorted(_REGISTRY)


def _register_all(items: Iterable[ChipProfile]) -> None:
    for item in items:
        register(item)


# --------------------------------------------------------------------------------------
# The profiles. Sources: shared/reference/ASCEND.md; [official] = Huawei docs/config,
# [3rd-party] = press/analysts, [derived] = arithmetic on sourced numbers,
# [assumption]/[unverified] = listed in `assumed` and configurable.
# --------------------------------------------------------------------------------------

ASCEND910 = ChipProfile(
    name="ascend910",
    description='Huawei Ascend 910 (2019, "910A"), 7 nm+, training; 4x HBM2',
    # 32 Da Vinci Max cores [3rd-party: Linley 2019, elecfans].
    ai_cores=32,
    vector_cores=32,
    # [derived] 256e12 / (32 cores * 4096 MAC * 2) = 0.977 GHz; no primary clock figure.
    clock_hz=256e12 / (32 * 4096 * 2),
    # 16x16x16 = 4096 fp16 MAC/cycle; 16x32x16 = 8192 int8 [3rd-party: Hot Chips 31].
    cube_fp16_macs_per_cycle=4096,
    cube_int8_macs_per_cycle=8192,
    # [assumption] the 910 Cube has no fp32 mode; fp32 matmul costed at 1/4 fp16 rate.
    cube_fp32_ratio=0.25,
    # 2048-bit vector unit, "256 bytes per clock cycle" [official: TIK docs].
    vector_bytes_per_cycle=256,
    scalar_ops_per_cycle=1.0,  # [assumption] one scalar op per cycle per core.
    hbm_bytes=32 * GiB,  # 4x HBM2, 32 GB [3rd-party: Linley].
    hbm_bandwidth=1.2e12,  # ~1.2 TB/s [unverified: secondary blogs only].
    l2_bytes=32 * MiB,  # 32 MB [3rd-party: Linley].
    ub_bytes=256 * KiB,  # 256 KB [official: TIK quick start].
    l1_bytes=1 * MiB,  # 1 MB [unverified, widely cited].
    l0a_bytes=64 * KiB,  # [unverified, widely cited].
    l0b_bytes=64 * KiB,  # [unverified, widely cited].
    l0c_bytes=256 * KiB,  # [unverified, widely cited].
    power_w=310.0,  # 310 W max measured (350 W TDP) [3rd-party reporting of launch].
    launch_overhead_s=5e-6,  # [assumption] kernel-launch latency.
    assumed=frozenset(
        {
            "clock_hz",
            "cube_fp32_ratio",
            "scalar_ops_per_cycle",
            "hbm_bandwidth",
            "l1_bytes",
            "l0a_bytes",
            "l0b_bytes",
            "l0c_bytes",
            "launch_overhead_s",
        }
    ),
)

ASCEND910B = ChipProfile(
    name="ascend910b",
    description="Huawei Ascend 910B3 (Atlas A2), training; official CANN platform config",
    # Ascend910B3.ini [official]: ai_core_cnt=20, cube_core_cnt=20, vector_core_cnt=40,
    # cube_freq=1800 MHz, cube_m/n/k_size=16.
    ai_cores=20,
    vector_cores=40,
    clock_hz=1.8e9,
    cube_fp16_macs_per_cycle=4096,
    cube_int8_macs_per_cycle=8192,  # [DtypeMKN] int8 = 16,32,16 [official].
    cube_fp32_ratio=0.25,  # [assumption] fp32/hf32 Cube rate vs fp16.
    vector_bytes_per_cycle=256,  # [official: TIK docs]; the ini also has vec_calc_size=128.
    scalar_ops_per_cycle=1.0,  # [assumption].
    hbm_bytes=64 * GiB,  # memory_size=64 GiB [official: Ascend910B3.ini].
    # [derived, unverified] ddr_rate=32 B/cycle/core (unit not stated) * 20 * 1.8 GHz.
    hbm_bandwidth=32 * 20 * 1.8e9,
    l2_bytes=192 * MiB,  # l2_size=201326592 [official: Ascend910B3.ini].
    ub_bytes=192 * KiB,  # [official: Ascend910B3.ini, catlass AtlasA2].
    l1_bytes=512 * KiB,  # [official].
    l0a_bytes=64 * KiB,  # [official].
    l0b_bytes=64 * KiB,  # [official].
    l0c_bytes=128 * KiB,  # [official].
    power_w=400.0,  # [assumption] no primary source in ASCEND.md.
    launch_overhead_s=5e-6,  # [assumption].
    assumed=frozenset(
        {
            "cube_fp32_ratio",
            "scalar_ops_per_cycle",
            "hbm_bandwidth",
            "power_w",
            "launch_overhead_s",
        }
    ),
)

ASCEND310 = ChipProfile(
    name="ascend310",
    description="Huawei Ascend 310 (2018), 12 nm, inference / edge",
    # Cores and clock: no primary source. [assumption] 2 Da Vinci cores; the clock is
    # [derived] so the official 8 TFLOPS fp16 holds: 8e12 / (2 * 4096 * 2) = 0.49 GHz.
    ai_cores=2,
    vector_cores=2,
    clock_hz=8e12 / (2 * 4096 * 2),
    cube_fp16_macs_per_cycle=4096,  # 16 TOPS int8 / 8 TFLOPS fp16 [official: HiSilicon].
    cube_int8_macs_per_cycle=8192,
    cube_fp32_ratio=0.25,  # [assumption].
    vector_bytes_per_cycle=256,  # [assumption] Da Vinci Max vector width.
    scalar_ops_per_cycle=1.0,  # [assumption].
    hbm_bytes=8 * GiB,  # [assumption] LPDDR4X on Atlas 200-class boards.
    hbm_bandwidth=51.2e9,  # [assumption] one LPDDR4X-4266 x64 channel pair.
    l2_bytes=8 * MiB,  # [assumption].
    ub_bytes=256 * KiB,  # [assumption] as the 910.
    l1_bytes=1 * MiB,  # [assumption].
    l0a_bytes=64 * KiB,  # [assumption].
    l0b_bytes=64 * KiB,  # [assumption].
    l0c_bytes=256 * KiB,  # [assumption].
    power_w=8.0,  # 8 W typical [official: HiSilicon].
    launch_overhead_s=5e-6,  # [assumption].
    assumed=frozenset(
        {
            "ai_cores",
            "vector_cores",
            "clock_hz",
            "cube_fp32_ratio",
            "vector_bytes_per_cycle",
            "scalar_ops_per_cycle",
            "hbm_bytes",
            "hbm_bandwidth",
            "l2_bytes",
            "ub_bytes",
            "l1_bytes",
            "l0a_bytes",
            "l0b_bytes",
            "l0c_bytes",
            "launch_overhead_s",
        }
    ),
)

HOST_CPU = ChipProfile(
    name="host_cpu",
    description="the host CPU (DESIGN.md section 10: 2 vCPU AMD EPYC Zen 4, AVX-512)",
    # [assumption] DESIGN.md 10: fp32 peak ~230 GFLOP/s = 2 cores * 3.6 GHz * 32 FLOP/cycle.
    ai_cores=2,
    vector_cores=2,
    clock_hz=3.6e9,
    # "Cube" = the BLAS path: 16 fp32 FMA/cycle/core; fp16 GEMM runs as fp32 [assumption].
    cube_fp16_macs_per_cycle=16,
    cube_int8_macs_per_cycle=64,  # [assumption] AVX-512 VNNI.
    cube_fp32_ratio=1.0,
    vector_bytes_per_cycle=64,  # one 512-bit op per cycle [assumption].
    scalar_ops_per_cycle=4.0,  # [assumption] superscalar integer issue.
    hbm_bytes=16 * GiB,  # [assumption] host DRAM; the cpu device does not limit it.
    hbm_bandwidth=40e9,  # [assumption] DDR5, two channels shared by the VM.
    l2_bytes=2 * MiB,  # 1 MiB L2 per Zen 4 core.
    ub_bytes=0,  # no equivalent.
    l1_bytes=32 * KiB,  # L1d per core.
    l0a_bytes=0,  # no equivalent.
    l0b_bytes=0,
    l0c_bytes=0,
    power_w=15.0,  # [assumption] share of a server socket for 2 vCPUs.
    launch_overhead_s=1e-6,  # [assumption] a Python -> numba call.
    assumed=frozenset(
        {
            "ai_cores",
            "clock_hz",
            "cube_fp16_macs_per_cycle",
            "cube_int8_macs_per_cycle",
            "vector_bytes_per_cycle",
            "scalar_ops_per_cycle",
            "hbm_bytes",
            "hbm_bandwidth",
            "power_w",
            "launch_overhead_s",
        }
    ),
)

_register_all((ASCEND910, ASCEND910B, ASCEND310, HOST_CPU))
