"""What a result was computed on: CPU, the instruction sets TensorFlow's kernels use, versions.

Training a network on a CPU is repeatable on one machine (same seed, versions and threads),
but another CPU can round differently: oneDNN picks its kernels by instruction set (AVX2,
AVX-512, AMX), and TensorFlow switches oneDNN on by default only on some CPUs. A study
records :func:`machine_record` next to its headline so a reader can tell which machine gave
it, and whether a rerun elsewhere should be expected to match bit for bit.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["KERNEL_FLAGS", "cpu_flags", "cpu_model", "isa_level", "machine_record"]

# CPU flags (Linux /proc/cpuinfo names) that change which kernels oneDNN and Eigen run.
KERNEL_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512dq",
    "avx512cd",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "avx_vnni",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "amx_fp16",
    "asimd",
    "sve",
    "sve2",  # Arm (its cpuinfo line is "Features")
)

_CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_fields(text: str) -> dict[str, str]:
    """The first processor's ``key: value`` fields of ``/proc/cpuinfo`` text."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the first processor's block ends at the first blank line
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _sysctl(*names: str) -> str:
    """``sysctl -n names`` (macOS, BSD), or "" where there is no such command or name."""
    try:
        done = subprocess.run(
            ["sysctl", "-n", *names], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def _read_cpuinfo() -> str | None:
    try:
        return _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """The CPU's instruction-set flags among :data:`KERNEL_FLAGS`, in that order.

    Args:
        cpuinfo: text in the layout of Linux's ``/proc/cpuinfo`` (its ``flags`` line, on
            Arm ``Features``, is read); default: the machine's own file, or, where there is
            none (macOS), the features ``sysctl`` reports, mapped to the Linux names.

    Returns:
        The flags present, e.g. ``["avx", "avx2", "fma", "avx512f", ...]``; empty when
        nothing can be read (then :func:`isa_level` says ``"unknown"``).
    """
    if cpuinfo is None:
        cpuinfo = _read_cpuinfo()
    if cpuinfo is not None:
        fields = _cpuinfo_fields(cpuinfo)
        present = set((fields.get("flags") or fields.get("features", "")).lower().split())
        return [flag for flag in KERNEL_FLAGS if flag in present]
    # macOS spells them AVX1.0, AVX2, AVX512F, AVX512VNNI: compare without "1.0" and "_"
    features = _sysctl("machdep.cpu.features", "machdep.cpu.leaf7_features").lower().split()
    present = {name.replace("1.0", "").replace("_", "") for name in features}
    return [flag for flag in KERNEL_FLAGS if flag.replace("_", "") in present]


def isa_level(flags: list[str] | tuple[str, ...]) -> str:
    """The widest instruction-set family among ``flags``, as oneDNN would choose its kernels.

    Args:
        flags: flags as :func:`cpu_flags` returns them.

    Returns:
        ``"AMX"``, ``"AVX-512"``, ``"AVX2"``, ``"AVX"`` or ``"unknown"`` (no flag known:
        another architecture, or nothing could be read).
    """
    present = set(flags)
    if present & {"amx_tile", "amx_bf16", "amx_int8", "amx_fp16"}:
        return "AMX"
    if "avx512f" in present:
        return "AVX-512"
    if "avx2" in present:
        return "AVX2"
    if "avx" in present:
        return "AVX"
    if "sve" in present:
        return "SVE"
    if "asimd" in present:
        return "NEON"
    return "unknown"


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's model name.

    Args:
        cpuinfo: ``/proc/cpuinfo`` text; default: the machine's own (else ``sysctl``, else
            :func:`platform.processor`).

    Returns:
        The ``model name`` field (x86), ``Hardware`` / ``Processor`` (Arm), or the best name
        the platform gives; ``"unknown"`` when none.
    """
    if cpuinfo is None:
        cpuinfo = _read_cpuinfo()
    if cpuinfo is not None:
        fields = _cpuinfo_fields(cpuinfo)
        for key in ("model name", "hardware", "processor", "cpu model", "uarch"):
            value = fields.get(key, "")
            if value and not value.isdigit():  # x86's "processor: 0" is an index, not a name
                return value
    else:
        name = _sysctl("machdep.cpu.brand_string").strip()
        if name:
            return name
    return platform.processor() or platform.machine() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _tensorflow_state() -> dict:
    """oneDNN, threads and op determinism as the loaded TensorFlow sees them (else None)."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return {
            "onednn_enabled": None,
            "intra_op_threads": None,
            "inter_op_threads": None,
            "op_determinism": None,
        }
    state = {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    try:  # private, but the only place TensorFlow tells whether its oneDNN kernels are on
        from tensorflow.python.util import _pywrap_util_port

        state["onednn_enabled"] = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        state["onednn_enabled"] = None
    try:
        from tensorflow.python.framework import config as tf_config

        state["op_determinism"] = bool(tf_config.is_op_determinism_enabled())
    except (ImportError, AttributeError):
        state["op_determinism"] = None
    return state


def machine_record(*, cpuinfo: str | None = None) -> dict:
    """What a result was computed on, as a JSON-ready dict for a study's ``results.json``.

    Reads files and the environment only; TensorFlow is not imported. When it is already
    loaded, its own view is added: whether the oneDNN kernels are on (TensorFlow's default
    depends on the CPU), its thread settings (0 means TensorFlow's default, one thread per
    core) and whether op determinism is on.

    Args:
        cpuinfo: ``/proc/cpuinfo`` text to describe instead of this machine's (for tests).

    Returns:
        A dict with ``cpu_model``, ``isa`` (:func:`isa_level`), ``cpu_flags``
        (:func:`cpu_flags`), ``architecture``, ``cores`` (usable by this process),
        ``python``, ``tensorflow``, ``keras``, ``numpy`` (versions, None when not installed),
        ``TF_ENABLE_ONEDNN_OPTS`` and ``ONEDNN_MAX_CPU_ISA`` (as set, None when unset),
        ``onednn_enabled``, ``intra_op_threads``, ``inter_op_threads`` and
        ``op_determinism`` (None when TensorFlow is not loaded).
    """
    flags = cpu_flags(cpuinfo)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count()
    return {
        "cpu_model": cpu_model(cpuinfo),
        "isa": isa_level(flags),
        "cpu_flags": flags,
        "architecture": platform.machine(),
        "cores": cores,
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow") or _version("tensorflow-cpu"),
        "keras": _version("keras"),
        "numpy": _version("numpy"),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        **_tensorflow_state(),
    }
