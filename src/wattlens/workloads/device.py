"""Where a workload runs: parse, validate and resolve ``device`` for ``load_workload``.

Accepted: ``cpu`` (the default), ``cuda`` (the current CUDA device, recorded as ``cuda:N``), ``cuda:N``,
``mps`` (Apple silicon), and ``auto`` (``cuda`` when ``torch.cuda.is_available()``, else ``cpu``; the
resolved device is what gets recorded). ``parse_device`` checks the spelling only (no torch: suites are
validated with it); ``resolve_device`` checks availability with torch and raises a :class:`WorkloadError`
that says what was asked, why it is unavailable here and what is allowed.

ONNX models run on onnxruntime's execution providers, not on torch devices: ``onnx_providers`` maps
``cpu`` to ``CPUExecutionProvider`` and ``cuda``/``cuda:N`` to ``CUDAExecutionProvider`` (the
``onnxruntime-gpu`` build); ``mps`` has no provider here. A user callable places its own tensors, so
wattlens cannot move it: only ``cpu`` and ``auto`` are accepted for callables (recorded as unmanaged).
"""

from __future__ import annotations

import os
import re
from typing import Any

from .errors import WorkloadError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
ALLOWED = (
    "auto (cuda when torch.cuda.is_available(), else cpu), cpu, cuda, cuda:N (N = CUDA device index), mps "
    "(Apple silicon)"
)
CALLABLE_DEVICE = "unmanaged (the callable places its own tensors)"
_SPELLING = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def parse_device(device: Any) -> str:
    """The canonical spelling of ``device`` (``None`` -> ``cpu``); raises WorkloadError for anything else."""
    if device is None:
        return "cpu"
    text = str(device).strip().lower()  # also accepts a torch.device
    if not _SPELLING.match(text):
        raise WorkloadError(f"unknown device {device!r}; allowed: {ALLOWED}")
    return text


def _cuda_unavailable_reason(torch: Any) -> str:
    if getattr(torch.version, "cuda", None) is None:
        return (
            f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None); install a CUDA "
            "build of torch on a machine with an NVIDIA GPU"
        )
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    where = f" (CUDA_VISIBLE_DEVICES={visible!r})" if visible is not None else ""
    return f"torch {torch.__version__} was built with CUDA {torch.version.cuda} but sees no usable GPU{where}"


def resolve_device(device: Any) -> str:
    """The device torch will use: ``cpu``, ``cuda:N`` or ``mps``. Raises WorkloadError when it is not
    available on this machine (naming why and what is allowed here)."""
    d = parse_device(device)
    if d == "cpu":
        return "cpu"
    import torch

    if d == "auto":
        return f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu"
    if d.startswith("cuda"):
        if not torch.cuda.is_available():
            raise WorkloadError(
                f"device {d!r} requested but torch.cuda.is_available() is False on this machine: "
                f"{_cuda_unavailable_reason(torch)}; allowed here: cpu, auto (-> cpu)"
            )
        n = torch.cuda.device_count()
        index = int(d.split(":", 1)[1]) if ":" in d else torch.cuda.current_device()
        if index >= n:
            raise WorkloadError(
                f"device {d!r} requested but torch sees {n} CUDA device(s) on this machine "
                f"(cuda:0 to cuda:{n - 1}); allowed here: cpu, auto, cuda, " + ", ".join(f"cuda:{i}" for i in range(n))
            )
        return f"cuda:{index}"
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        built = bool(mps is not None and mps.is_built())
        raise WorkloadError(
            f"device 'mps' requested but torch.backends.mps.is_available() is False on this machine "
            f"(MPS needs Apple-silicon macOS and a torch build with MPS; is_built()={built}); "
            "allowed here: cpu, auto" + (", cuda" if torch.cuda.is_available() else "")
        )
    return "mps"


def device_kind(device: str | None) -> str:
    """``cpu`` | ``gpu`` (CUDA) | ``soc`` (Apple MPS) | ``unknown`` (a callable's own choice, or not recorded)."""
    d = str(device or "")
    if d == "cpu":
        return "cpu"
    if d.startswith("cuda"):
        return "gpu"
    if d == "mps":
        return "soc"
    return "unknown"


def describe_device(device: str) -> dict[str, Any]:
    """What the resolved device is, for ``w.info`` (GPU name and memory where torch knows them)."""
    out: dict[str, Any] = {"device": device, "device_kind": device_kind(device)}
    if device.startswith("cuda"):
        try:
            import torch

            props = torch.cuda.get_device_properties(int(device.split(":", 1)[1]))
            out["device_name"] = props.name
            out["device_memory_gb"] = round(props.total_memory / 2**30, 1)
        except Exception:  # informative only
            pass
    return out


def synchronize(device: str) -> None:
    """Wait until the device has finished its queued work (no-op on cpu)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)
    elif device == "mps":
        import torch

        torch.mps.synchronize()


def onnx_providers(device: Any) -> tuple[str, list[Any]]:
    """(resolved device, onnxruntime providers) for an ONNX session; raises WorkloadError where the device
    has no execution provider in this onnxruntime build."""
    d = parse_device(device)
    if d == "cpu":
        return "cpu", ["CPUExecutionProvider"]
    if d == "mps":
        raise WorkloadError(
            "device 'mps' cannot run an ONNX model: wattlens runs onnxruntime with the CPU or CUDA "
            "execution provider only; use device='cpu', or engine='pytorch' for mps"
        )
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise WorkloadError("ONNX models need onnxruntime (pip install onnxruntime)") from exc
    available = list(ort.get_available_providers())
    has_cuda = "CUDAExecutionProvider" in available
    if d == "auto" and not has_cuda:
        return "cpu", ["CPUExecutionProvider"]
    if not has_cuda:
        raise WorkloadError(
            f"device {d!r} requested for an ONNX model but this onnxruntime has no "
            f"CUDAExecutionProvider (available: {', '.join(available)}); install onnxruntime-gpu "
            "on a CUDA machine, or use device='cpu' / 'auto'"
        )
    index = int(d.split(":", 1)[1]) if ":" in d else 0
    return f"cuda:{index}", [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def to_device(obj: Any, device: str) -> Any:
    """Tensors (also inside dicts, BatchEncodings, lists and tuples) moved to ``device``; other values as they
    are. On cpu nothing is touched (inputs are built on the CPU): no overhead on the default path."""
    if device == "cpu":
        return obj
    if hasattr(obj, "to") and hasattr(obj, "device") and hasattr(obj, "dtype"):
        return obj.to(device)
    if isinstance(obj, dict) or (hasattr(obj, "items") and hasattr(obj, "keys")):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj
