"""This process's memory from the kernel's own accounting (one reader for the engine and its worker)."""

from __future__ import annotations


def status_mb(field: str) -> float | None:
    """A ``/proc/self/status`` memory field in MB: ``VmRSS`` (now) or ``VmHWM`` (peak; unlike ``ru_maxrss`` it is
    not inherited from the parent across fork). ``None`` where /proc is absent (macOS) or the field is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None
