"""This process's memory and the machine's CPU load from the kernel's own accounting (one reader for the
optimizer and its worker)."""

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


def rss_now_mb() -> float | None:
    return status_mb("VmRSS")


def rss_peak_mb() -> float | None:
    """This process's peak RSS (since start or the last :func:`reset_peak_rss`)."""
    peak = status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    except Exception:  # no peak known on this platform
        return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0), so a trial's peak is its own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def busy_cpu_s() -> float | None:
    """Machine-wide busy CPU seconds (user+nice+system+irq+softirq+steal) from /proc/stat."""
    import os

    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def loadavg() -> tuple[float, ...] | None:
    """1/5/15-minute load averages: evidence of co-tenants competing for the CPUs while we measured."""
    import os

    try:
        return tuple(round(x, 2) for x in os.getloadavg())
    except OSError:
        return None
