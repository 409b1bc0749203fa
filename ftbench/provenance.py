"""Where a number came from: software versions and the hardware (the board's commit: ``ftbench.git``)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import sys
from pathlib import Path

import ftbench

PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "tokenizers",
    "safetensors",
    "scikit-learn",
    "numpy",
    "huggingface_hub",
    "accelerate",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change a result."""
    versions = {"python": platform.python_version(), "ftbench": ftbench.__version__}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_model() -> str:
    """The CPU's marketing name, as the OS reports it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


CPU_FLAGS = ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "asimd", "sve")
"""The CPU features that change the speed of matrix kernels (recorded when present)."""


def cpu_flags() -> list[str]:
    """Which of ``CPU_FLAGS`` this CPU has (Linux; empty elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return []
    for line in cpuinfo.read_text(errors="replace").splitlines():
        if line.startswith(("flags", "Features")):
            have = set(line.split(":", 1)[1].split())
            return [f for f in CPU_FLAGS if f in have]
    return []


def fix_threads(requested: int | None = None) -> int:
    """Set torch's compute threads (``requested``, else torch's own default) and return the
    number, so that every figure of a run is taken with the same, recorded thread count."""
    try:
        import torch
    except ImportError:  # pragma: no cover - the evaluation extras bring torch
        return requested or 1
    threads = requested or torch.get_num_threads()
    torch.set_num_threads(threads)
    return threads


def hardware_profile(hardware: dict, device: str) -> str:
    """The name under which efficiency figures are comparable: the GPU for a CUDA run; for a
    CPU run the CPU model, the CPUs the process may use and its compute threads.

    >>> hardware_profile({"cpu": "AMD EPYC 7B13", "cpu_affinity": 2, "torch_threads": 2}, "cpu")
    'cpu: AMD EPYC 7B13 x2, 2 threads'
    >>> hardware_profile({"gpu": {"name": "NVIDIA H200"}}, "cuda:0")
    'cuda: NVIDIA H200'
    """
    if device.startswith("cuda") and hardware.get("gpu"):
        return f"cuda: {hardware['gpu']['name']}"
    cpus = hardware.get("cpu_affinity") or hardware.get("cpu_cores_logical")
    return f"cpu: {hardware.get('cpu', 'unknown CPU')} x{cpus}, {hardware.get('torch_threads', '?')} threads"


def hardware() -> dict:
    """CPU, cores, memory, and the GPU when torch sees one (only if torch is already loaded)."""
    import psutil  # here: a site build imports this module and need not load psutil

    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": None,
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info["gpu"] = {
                "name": props.name,
                "memory_gb": round(props.total_memory / 2**30, 1),
                "count": torch.cuda.device_count(),
                "cuda": torch.version.cuda,
                "capability": f"{props.major}.{props.minor}",
                "driver": _nvidia_driver(),
            }
    return info


def _nvidia_driver() -> str | None:
    """The NVIDIA kernel driver's version (Linux ``/proc/driver/nvidia/version``), None elsewhere."""
    try:
        text = Path("/proc/driver/nvidia/version").read_text(errors="replace")
    except OSError:
        return None
    match = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", text)
    return match.group(1) if match else None
