"""Apple silicon CPU / GPU / ANE energy from ``powermetrics`` (macOS only).

``powermetrics --samplers cpu_power,gpu_power -i <ms> -f plist`` streams one plist per interval
(documents separated by NUL bytes) with ``elapsed_ns`` and a ``processor`` dict holding ``cpu_power``,
``gpu_power``, ``ane_power`` (mW, averaged over the interval), ``combined_power`` and the matching
``*_energy`` keys (mJ). The text format (``-f text``, the default) prints the same figures as
``CPU Power: 1234 mW`` lines under ``*** Sampled system activity (...) (1004.62ms elapsed) ***``
headers. :func:`parse_powermetrics` reads both.

How a window's energy is formed: every parsed sample is placed on a timeline (contiguous intervals,
chained by ``elapsed_ns``, anchored to our clock at the earliest plausible arrival), and a window edge's
cumulative energy is interpolated inside the sample that contains it (uniform power within one sample).
The part after the newest sample is extrapolated with the newest power and flagged; its share of the
bounds is ×0.5 … ×2. Windows of at least two intervals are ``measured`` (whole samples of Apple's
energy counters); shorter ones are ``integrated``. Accuracy of Apple's figures is undocumented: the
±10 % band is an **assumption**.

Limits, stated honestly:

* ``powermetrics`` needs root: run as root or allow ``sudo -n powermetrics`` (sudoers ``NOPASSWD``).
  :meth:`AppleSource.probe` says which is missing.
* The powermetrics process is a child process (there is no other way to run it); the shared sampler
  thread drains its pipe while windows are open. ``close()`` terminates and reaps it.
* IOReport (the sudo-free path used by ``zeus-apple-silicon``) needs ctypes bindings to the private
  ``libIOReport.dylib``; **not implemented** here.
* On Linux and other systems :meth:`AppleSource.probe` returns unavailable with reason "not macOS".
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from wattlens.meters.base import (
    DOMAIN_CPU,
    DOMAIN_GPU,
    INTEGRATED,
    MEASURED,
    ComponentEnergy,
    EnergySource,
    Snapshot,
    SourceStatus,
)
from wattlens.meters.sampler import SourceUnavailableError

REL_ERR = 0.10  # assumption: Apple documents no accuracy for powermetrics
DEFAULT_INTERVAL_MS = 500
_MAX_SAMPLES = 200_000
NOT_MACOS = "not macOS: Apple silicon energy comes from macOS powermetrics/IOReport"
# (domain, device, key in the processor dict / text label). The Neural Engine is an accelerator, so it is a
# ``gpu``-domain component with device "ane". None of these includes DRAM, so no ``soc`` domain is claimed:
# memory stays to be estimated by the estimator.
PARTS: tuple[tuple[str, str, str], ...] = (
    (DOMAIN_CPU, "cpu", "cpu"),
    (DOMAIN_GPU, "apple-gpu", "gpu"),
    (DOMAIN_GPU, "ane", "ane"),
)
_TEXT_HEADER = re.compile(r"\*\*\* Sampled system activity .*?\(([\d.]+)\s*ms elapsed\)")
_TEXT_POWER = re.compile(r"^\s*(CPU|GPU|ANE) Power:\s*([\d.]+)\s*mW", re.MULTILINE)


@dataclass(frozen=True)
class PmSample:
    """One powermetrics interval: its length and the energy of each part over it (J)."""

    elapsed_s: float
    energy_j: dict[str, float]  # keys "cpu", "gpu", "ane"

    def power_w(self, part: str) -> float:
        return self.energy_j.get(part, 0.0) / self.elapsed_s if self.elapsed_s > 0 else 0.0


# ---------------------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------------------
def parse_powermetrics(data: bytes | str) -> tuple[list[PmSample], bytes]:
    """Complete samples in ``data`` (plist or text output) and the unparsed remainder to keep for later."""
    raw = data.encode() if isinstance(data, str) else data
    if b"<plist" in raw or raw.lstrip(b"\x00").startswith(b"<?xml"):
        return _parse_plist_stream(raw)
    return _parse_text_stream(raw)


def _parse_plist_stream(raw: bytes) -> tuple[list[PmSample], bytes]:
    import plistlib  # lazy: ~8 ms of XML machinery, only needed once powermetrics output arrives

    chunks = raw.split(b"\x00")
    rest = chunks.pop()  # after the last NUL: an incomplete document (or b"")
    out = []
    for chunk in chunks:
        chunk = chunk.strip()
        if not chunk:
            continue
        try:
            doc = plistlib.loads(chunk)
        except Exception:
            continue  # a damaged document is skipped; the timeline chains over the gap by elapsed_ns
        sample = _sample_from_plist(doc)
        if sample is not None:
            out.append(sample)
    if rest.strip().endswith(b"</plist>"):  # last document without a trailing NUL
        more, _ = _parse_plist_stream(rest + b"\x00")
        out.extend(more)
        rest = b""
    return out, rest


def _sample_from_plist(doc: Any) -> PmSample | None:
    if not isinstance(doc, dict):
        return None
    elapsed_s = float(doc.get("elapsed_ns", 0)) / 1e9
    proc = doc.get("processor") or {}
    if elapsed_s <= 0 or not isinstance(proc, dict):
        return None
    energy: dict[str, float] = {}
    for part in ("cpu", "gpu", "ane"):
        power_mw = proc.get(f"{part}_power")
        energy_mj = proc.get(f"{part}_energy")
        if part == "gpu" and power_mw is None:
            power_mw = (doc.get("gpu") or {}).get("gpu_power")
        if isinstance(power_mw, (int, float)):
            energy[part] = float(power_mw) / 1000.0 * elapsed_s  # mW over the interval
        elif isinstance(energy_mj, (int, float)):
            energy[part] = float(energy_mj) / 1000.0
    return PmSample(elapsed_s, energy) if energy else None


def _parse_text_stream(raw: bytes) -> tuple[list[PmSample], bytes]:
    text = raw.decode(errors="replace")
    heads = list(_TEXT_HEADER.finditer(text))
    out: list[PmSample] = []
    if len(heads) < 2:  # the last block may still be being written: wait for the next header
        return out, raw[_byte_offset(text, heads[0].start()) :] if heads else raw
    for h, nxt in itertools.pairwise(heads):
        sample = _sample_from_text(float(h.group(1)) / 1000.0, text[h.end() : nxt.start()])
        if sample is not None:
            out.append(sample)
    return out, raw[_byte_offset(text, heads[-1].start()) :]


def _sample_from_text(elapsed_s: float, block: str) -> PmSample | None:
    energy: dict[str, float] = {}
    for label, mw in _TEXT_POWER.findall(block):
        part = label.lower()
        if part not in energy:  # "GPU Power" is printed in the processor and the GPU section: once
            energy[part] = float(mw) / 1000.0 * elapsed_s
    return PmSample(elapsed_s, energy) if energy and elapsed_s > 0 else None


def _byte_offset(text: str, char_index: int) -> int:
    return len(text[:char_index].encode())


def parse_final_text_block(raw: bytes | str) -> list[PmSample]:
    """Parse a complete text capture, including its last block (which the stream parser holds back)."""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    heads = list(_TEXT_HEADER.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    samples = (
        _sample_from_text(float(h.group(1)) / 1000.0, text[h.end() : e]) for h, e in zip(heads, ends, strict=True)
    )
    return [s for s in samples if s is not None]


# ---------------------------------------------------------------------------------------------------------
# the source
# ---------------------------------------------------------------------------------------------------------
class AppleSource(EnergySource):
    """CPU, GPU and ANE energy on Apple silicon from a ``powermetrics`` child process.

    Args:
        interval_ms: powermetrics sampling interval (also the sampler's polling period).
        command: the command to run (default: powermetrics, behind ``sudo -n`` unless root); tests run a
            script that replays recorded output.
        platform: ``sys.platform`` override, for tests.
        clock: monotonic seconds.

    Raises:
        SourceUnavailableError: not macOS, or powermetrics cannot be started.

    Example:
        >>> import sys
        >>> from wattlens.meters.apple import AppleSource
        >>> AppleSource.probe().available if sys.platform != "darwin" else False
        False
    """

    name = "apple"

    def __init__(
        self,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        *,
        command: Sequence[str] | None = None,
        platform: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        popen: Callable[..., Any] = subprocess.Popen,
    ) -> None:
        if (platform or sys.platform) != "darwin":
            raise SourceUnavailableError(NOT_MACOS)
        self._clock = clock
        self._interval_s = interval_ms / 1000.0
        self._lock = threading.Lock()
        self._buf = b""
        # Timeline of samples: end times, cumulative J per part at each end, and the samples themselves.
        self._ends: list[float] = []
        self._cums: list[dict[str, float]] = []
        self._samples: list[PmSample] = []
        self._t0: float | None = None  # start of the oldest kept sample
        self._base = {"cpu": 0.0, "gpu": 0.0, "ane": 0.0}  # cumulative J at _t0
        self._closed = False
        self.parse_errors = 0
        cmd = list(command) if command is not None else _default_command(interval_ms)
        try:
            self._proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise SourceUnavailableError(f"cannot start powermetrics: {exc}") from exc
        self._fd = self._proc.stdout.fileno()
        os.set_blocking(self._fd, False)
        self._started_s = clock()

    # -- EnergySource ----------------------------------------------------------------------------------
    @classmethod
    def probe(cls, platform: str | None = None, **_: Any) -> SourceStatus:
        if (platform or sys.platform) != "darwin":
            return SourceStatus(cls.name, False, NOT_MACOS)
        if shutil.which("powermetrics") is None and not os.path.exists("/usr/bin/powermetrics"):
            return SourceStatus(cls.name, False, "powermetrics not found (it ships with macOS in /usr/bin)")
        if os.geteuid() != 0:
            try:
                ok = (
                    subprocess.run(["sudo", "-n", "-l", "powermetrics"], capture_output=True, timeout=5).returncode == 0
                )
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if not ok:
                return SourceStatus(
                    cls.name,
                    False,
                    "powermetrics needs root: run as root or allow it without "
                    "a password (sudoers: `<user> ALL=(root) NOPASSWD: /usr/bin/powermetrics`); "
                    "IOReport (sudo-free) is not implemented",
                )
        return SourceStatus(
            cls.name, True, "powermetrics cpu_power,gpu_power (CPU, GPU, ANE)", (DOMAIN_CPU, DOMAIN_GPU), MEASURED
        )

    def snapshot(self) -> Snapshot:
        errors: dict[str, str] = {}
        try:
            self._pump()
        except Exception as exc:  # never raise on the hot path
            errors["powermetrics"] = repr(exc)
        return Snapshot(self._clock(), None, errors)

    def sample_period_s(self) -> float | None:
        return None if self._closed else self._interval_s

    def sample(self) -> None:
        self._pump()

    def delta(self, start: Snapshot, end: Snapshot) -> list[ComponentEnergy]:
        try:
            self._pump()
        except Exception:
            pass
        with self._lock:
            return [self._component(domain, device, part, start.t_s, end.t_s) for domain, device, part in PARTS]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        proc = self._proc
        try:
            proc.terminate()
            proc.wait(timeout=2)
        except Exception:
            try:
                proc.kill()
                proc.wait(timeout=2)
            except Exception:
                pass
        try:
            proc.stdout.close()
        except Exception:
            pass

    # -- internals -------------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Read whatever powermetrics has written (non-blocking) and add complete samples to the timeline."""
        if self._closed:
            return
        chunks = []
        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        if not chunks:
            return
        now = self._clock()
        with self._lock:
            samples, self._buf = parse_powermetrics(self._buf + b"".join(chunks))
            # Samples read together ended at most `now`: walk back from the newest by their elapsed times.
            latest = [now] * len(samples)
            for k in range(len(samples) - 2, -1, -1):
                latest[k] = latest[k + 1] - samples[k + 1].elapsed_s
            for s, t_latest in zip(samples, latest, strict=True):
                self._append(s, t_latest)

    def _append(self, s: PmSample, latest_end_s: float) -> None:
        if self._ends:
            prev_end, cum = self._ends[-1], self._cums[-1]
            # Intervals are contiguous; a sample cannot have ended after it was read.
            t_end = max(min(latest_end_s, prev_end + s.elapsed_s), prev_end)
        else:
            t_end, cum = latest_end_s, dict(self._base)
            self._t0 = max(latest_end_s - s.elapsed_s, self._started_s - s.elapsed_s)
        self._ends.append(t_end)
        self._cums.append({p: cum.get(p, 0.0) + s.energy_j.get(p, 0.0) for p in ("cpu", "gpu", "ane")})
        self._samples.append(s)
        if len(self._ends) > _MAX_SAMPLES:  # a day at 500 ms; drop the oldest half
            half = _MAX_SAMPLES // 2
            self._t0, self._base = self._ends[half - 1], self._cums[half - 1]
            del self._ends[:half], self._cums[:half], self._samples[:half]

    def _cum_at(self, part: str, t: float) -> tuple[float, float] | None:
        """(cumulative J at t, of which extrapolated beyond the newest sample), or None before the first."""
        if not self._ends or self._t0 is None or t < self._t0:
            return None
        if t >= self._ends[-1]:
            ext = self._samples[-1].power_w(part) * (t - self._ends[-1])
            return self._cums[-1][part] + ext, ext
        k = bisect.bisect_left(self._ends, t)  # the sample whose interval holds t
        prev_end = self._ends[k - 1] if k > 0 else self._t0
        prev_cum = self._cums[k - 1][part] if k > 0 else self._base[part]
        frac = (t - prev_end) / max(self._ends[k] - prev_end, 1e-12)
        return prev_cum + frac * (self._cums[k][part] - prev_cum), 0.0

    def _component(self, domain: str, device: str, part: str, t0: float, t1: float) -> ComponentEnergy:
        method = f"powermetrics:{part}_power"
        a, b = self._cum_at(part, t0), self._cum_at(part, t1)
        if a is None or b is None:
            return ComponentEnergy.unavailable(
                domain,
                method,
                "no powermetrics sample covers the window start yet "
                f"(the first arrives {self._interval_s:.1f} s after start)",
                device,
            )
        energy_j = b[0] - a[0]
        ext_j = max(b[1] - a[1], 0.0)
        known_j = max(energy_j - ext_j, 0.0)
        low_j = known_j * (1 - REL_ERR) + 0.5 * ext_j
        high_j = known_j * (1 + REL_ERR) + 2.0 * ext_j
        long_window = (t1 - t0) >= 2 * self._interval_s
        note = f"±{REL_ERR:.0%} assumed (Apple documents no accuracy)"
        if ext_j > 0:
            note += f"; last {ext_j:.3g} J extrapolated from the newest sample's power"
        if not long_window:
            note += f"; window shorter than two {self._interval_s * 1e3:.0f} ms samples: pro-rated power"
        return ComponentEnergy(
            domain, energy_j, MEASURED if long_window else INTEGRATED, method, low_j, high_j, device, note
        )


def _default_command(interval_ms: int) -> list[str]:
    cmd = ["powermetrics", "--samplers", "cpu_power,gpu_power", "-i", str(int(interval_ms)), "-f", "plist"]
    return cmd if os.geteuid() == 0 else ["sudo", "-n", *cmd]


def discover(**kwargs: Any) -> list[EnergySource]:
    """``[AppleSource(**kwargs)]`` on macOS when powermetrics can run, else ``[]``."""
    if not AppleSource.probe(platform=kwargs.get("platform")).available:
        return []
    try:
        return [AppleSource(**kwargs)]
    except SourceUnavailableError:
        return []


__all__ = ["AppleSource", "PmSample", "discover", "parse_final_text_block", "parse_powermetrics"]
