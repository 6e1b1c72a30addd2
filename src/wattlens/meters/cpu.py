"""CPU model detection, model-name normalisation and power-table lookup (no sensor needed).

Two bundled tables feed the estimator (both documented in ``docs/DATA.md``):

* ``cpu_power.csv`` (§3): vendor TDP per CPU model, keyed by a *normalised* model name.
* ``cloud_vcpu_power.csv`` (§4): Cloud Carbon Footprint's per-vCPU idle/full-load watts per
  microarchitecture (SPECpower-derived).

Cost matters here because ``Monitor()`` must be ready in ≤ 50 ms: the 4,693-row CPU table is never
parsed as a whole. An exact lookup is a case-insensitive substring search of ``,<name>,`` in the file
text (one ``str.find``), cached; the prefix fallback scans only the lines that contain the name.

>>> normalise_model_name("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
'Intel Xeon Gold 6338'
>>> normalise_model_name("AMD EPYC 9654 96-Core Processor")
'AMD EPYC 9654'
>>> lookup_cpu("AMD EPYC 9654").tdp_w
360.0
"""

from __future__ import annotations

import functools
import os
import re
from typing import NamedTuple

# Plain str paths: pathlib costs 4-10 ms to import on a busy VM and this module is on Monitor()'s path.
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CPU_TABLE = os.path.join(DATA_DIR, "cpu_power.csv")
CLOUD_TABLE = os.path.join(DATA_DIR, "cloud_vcpu_power.csv")

MATCH_EXACT = "exact"  # case-insensitive equality of normalised names
MATCH_PREFIX = "prefix"  # fallback: exactly one table row extends / is extended by the name (labelled)
MATCH_NONE = "none"

# --- normalisation (docs/DATA.md §3 "Model normalization", steps 1-8, in that order) ------------------
# Plain string operations, no regular expressions: compiling a dozen patterns costs 3-13 ms, paid by every
# fresh process at its first Monitor(). tests/meters/test_cpu.py checks this against the rules.
_MARKS = ("(R)", "(TM)", "(tm)", "®", "™", "\u200b", "\u200c", "\u200d", "\ufeff")
_DROP_WORDS = frozenset(("CPU", "Processor", "processor", "X-series"))


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).isdigit()


def _drop_ghz(s: str) -> str:  # 2: trailing " @ <n>GHz"
    at = s.rfind("@")
    if at >= 0:
        tail = s[at + 1 :].strip()
        if tail[-3:].lower() == "ghz" and _is_number(tail[:-3].strip()):
            return s[:at].rstrip()
    return s


def _drop_gen(s: str) -> str:  # 3: leading "<n>th Gen "
    parts = s.split(None, 2)
    if len(parts) == 3 and parts[1].lower() == "gen":
        n = parts[0]
        if n[-2:].lower() in ("st", "nd", "rd", "th") and n[:-2].isdigit():
            return parts[2]
    return s


def _drop_radeon(s: str) -> str:  # 4: trailing " with Radeon ..." / " w/ Radeon ..."
    low = s.lower()
    for marker in (" with radeon", " w/ radeon"):
        i = low.find(marker)
        if i >= 0 and (len(low) == i + len(marker) or not low[i + len(marker)].isalnum()):
            return s[:i]
    return s


def _drop_cores(s: str) -> str:  # 5: trailing " <n>-Core Processor" / " <n>-Cores"
    words = s.split()
    if words and words[-1].lower() == "processor" and len(words) >= 2:
        last, keep = words[-2], words[:-2]
    elif words:
        last, keep = words[-1], words[:-1]
    else:
        return s
    n, dash, core = last.partition("-")
    if dash and n.isdigit() and core.lower() in ("core", "cores") and keep:
        return " ".join(keep)
    return s


def normalise_model_name(raw: str) -> str:
    """Apply the DATA.md §3 rules to a ``/proc/cpuinfo`` model name or a macOS brand string."""
    s = raw
    for mark in _MARKS:  # 1
        s = s.replace(mark, "")
    s = _drop_cores(_drop_radeon(_drop_gen(_drop_ghz(s))))  # 2-5
    words = [w for w in s.split() if w not in _DROP_WORDS]  # 6, 7
    if len(words) >= 4 and words[:2] == ["Intel", "Core"] and len(words[2]) == 2 and words[2][0] == "i":  # 8
        nxt = words[3]
        digits = len(nxt) - len(nxt.lstrip("0123456789"))
        if 4 <= digits <= 5 and words[2][1].isdigit():  # "i7 14700K" yes, the older "i5 650" no
            words[2:4] = [f"{words[2]}-{nxt}"]
    return " ".join(words)


# --- detection ------------------------------------------------------------------------------------------
class CpuInfo(NamedTuple):
    """What this machine says about its CPU."""

    raw_model: str  # as reported ("" when nothing could be read)
    model: str  # normalised
    logical_cpus: int  # os.cpu_count(): vCPUs of a VM, hardware threads of a bare-metal host
    virtualised: bool  # the "hypervisor" CPU flag (Linux) is set
    source: str  # where raw_model came from


@functools.lru_cache(maxsize=1)
def detect_cpu() -> CpuInfo:
    """Read the CPU model once per process (cached): /proc/cpuinfo, sysctl on macOS, else platform."""
    raw, src, virt = "", "none", False
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not raw:
                    raw, src = value.strip(), "/proc/cpuinfo"
                elif key == "flags":
                    virt = " hypervisor" in f" {value.strip()}"
                    if raw:
                        break
    except OSError:
        pass
    if not raw and os.uname().sysname == "Darwin":
        import subprocess  # lazy: only macOS needs it

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, timeout=2, check=False
            )
            raw, src = out.stdout.strip(), "sysctl machdep.cpu.brand_string"
        except (OSError, subprocess.SubprocessError):
            pass
    if not raw:
        import platform  # lazy: ~1.5 ms to import

        raw, src = platform.processor() or "", "platform.processor()"
    return CpuInfo(raw, normalise_model_name(raw) if raw else "", os.cpu_count() or 1, virt, src)


# --- cpu_power.csv lookup -------------------------------------------------------------------------------
class CpuRecord(NamedTuple):
    """One row of ``cpu_power.csv``."""

    vendor: str
    model: str
    cores: int | None
    threads: int | None
    tdp_w: float
    power_kind: str
    source: str
    match: str = MATCH_EXACT

    @property
    def citation(self) -> str:
        return f"cpu_power.csv row '{self.model}' ({self.tdp_w:g} W {self.power_kind}; {self.source})"


@functools.lru_cache(maxsize=1)
def _cpu_table_text() -> tuple[str, str]:
    with open(CPU_TABLE, encoding="utf-8") as f:
        text = f.read()
    return text, text.lower()


def _parse_row(line: str, match: str) -> CpuRecord | None:
    parts = line.split(",", 6)
    if len(parts) < 7:
        return None
    vendor, model, cores, threads, tdp, kind, source = parts
    try:
        return CpuRecord(
            vendor,
            model,
            int(cores) if cores else None,
            int(threads) if threads else None,
            float(tdp),
            kind,
            source,
            match,
        )
    except ValueError:
        return None


def _line_at(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)].rstrip("\r")


@functools.lru_cache(maxsize=64)
def lookup_cpu(model: str, allow_prefix: bool = True) -> CpuRecord | None:
    """The table row for a *normalised* model name: exact (case-insensitive) first.

    The prefix fallback accepts a row only when it is the *single* row whose name extends the given name
    by one more word (or that the given name extends): "AMD EPYC" matches 148 rows and is therefore left
    unmatched rather than silently mapped to one of them (Carbontracker's "AMD EPYC 7232P" mistake).
    """
    if not model:
        return None
    text, low = _cpu_table_text()
    key = model.lower()
    pos = low.find(f",{key},")
    while pos >= 0:  # the name sits in the model column (2nd): the line must start with "vendor,"
        line_start = low.rfind("\n", 0, pos) + 1
        if "," not in low[line_start:pos]:
            return _parse_row(_line_at(text, pos), MATCH_EXACT)
        pos = low.find(f",{key},", pos + 1)
    if not allow_prefix:
        return None
    candidates = [_parse_row(text[s:e], MATCH_PREFIX) for s, e in _prefix_spans(key)]
    candidates = [c for c in candidates if c is not None]
    return candidates[0] if len(candidates) == 1 else None


@functools.lru_cache(maxsize=64)
def _prefix_spans(key: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of the lines whose model extends ``key`` by a word, or that ``key`` extends.

    Only lines containing ``key`` (first case) are split, so this costs one pass of ``str.find``.
    """
    _, low = _cpu_table_text()
    spans: list[tuple[int, int]] = []
    pos = low.find(key)
    while pos >= 0:  # rows whose model starts with "key "
        start = low.rfind("\n", 0, pos) + 1
        end = low.find("\n", pos)
        end = len(low) if end < 0 else end
        model = low[start:end].split(",", 2)[1] if low.count(",", start, end) >= 2 else ""
        if model.startswith(key + " ") and (start, end) not in spans:
            spans.append((start, end))
        pos = low.find(key, end)
    words = key.split(" ")
    for n in range(len(words) - 1, 0, -1):  # rows that are a shorter prefix of key ("key" extends them)
        shorter = " ".join(words[:n])
        p = low.find(f",{shorter},")
        while p >= 0:
            start = low.rfind("\n", 0, p) + 1
            if "," not in low[start:p]:
                end = low.find("\n", p)
                spans.append((start, len(low) if end < 0 else end))
            p = low.find(f",{shorter},", p + 1)
    return tuple(spans)


def prefix_candidates(model: str) -> int:
    """How many table rows a prefix match would consider (for notes: '148 candidates, ambiguous')."""
    return len(_prefix_spans(model.lower())) if model else 0


# --- cloud_vcpu_power.csv ------------------------------------------------------------------------------
class VcpuRow(NamedTuple):
    provider: str
    microarchitecture: str
    min_w_per_vcpu: float
    max_w_per_vcpu: float
    source: str
    note: str

    @property
    def citation(self) -> str:
        watts = f"{self.min_w_per_vcpu}-{self.max_w_per_vcpu} W"
        return f"cloud_vcpu_power.csv {self.provider}/{self.microarchitecture} ({watts})"


@functools.lru_cache(maxsize=1)
def cloud_vcpu_rows() -> tuple[VcpuRow, ...]:
    """All 37 rows (small file, parsed once)."""
    import csv  # local: csv is cheap but only this path needs it

    with open(CLOUD_TABLE, encoding="utf-8", newline="") as f:
        return tuple(
            VcpuRow(
                r["provider"],
                r["microarchitecture"],
                float(r["min_w_per_vcpu"]),
                float(r["max_w_per_vcpu"]),
                r["source"],
                r.get("note") or "",
            )
            for r in csv.DictReader(f)
        )


def rows_for_family(microarchitecture: str | None) -> tuple[VcpuRow, ...]:
    if microarchitecture is None:
        return ()
    return tuple(r for r in cloud_vcpu_rows() if r.microarchitecture == microarchitecture)


def rows_for_vendor_family(model: str) -> tuple[tuple[VcpuRow, ...], str]:
    """Rows that a model name of unknown generation could still belong to, and a label for them.

    "AMD EPYC" (no SKU) -> every EPYC row; "Intel Xeon" -> every Intel server row; otherwise all rows.
    Graviton rows are CCF copies of EPYC 2nd Gen (DATA.md §4), so they add no spread and are kept out.
    """
    rows = [r for r in cloud_vcpu_rows() if not r.microarchitecture.startswith("Graviton")]
    m = model.lower()
    if "epyc" in m:
        return tuple(r for r in rows if r.microarchitecture.startswith("EPYC")), "every EPYC generation"
    if "xeon" in m:
        return tuple(r for r in rows if not r.microarchitecture.startswith("EPYC")), "every Intel microarchitecture"
    return tuple(rows), "every microarchitecture in the table"


# Model number -> microarchitecture (CCF's family names). Only server lines that appear in cloud fleets.
_SCALABLE_GEN = {"1": "Skylake", "2": "Cascade Lake", "3": "Ice Lake", "4": "Sapphire Rapids", "5": "Emerald Rapids"}
_E5_GEN = {None: "Sandy Bridge", "2": "Ivy Bridge", "3": "Haswell", "4": "Broadwell"}
_EPYC_GEN = {"1": "EPYC 1st Gen", "2": "EPYC 2nd Gen", "3": "EPYC 3rd Gen", "4": "EPYC 4th Gen", "5": "EPYC 5th Gen"}


@functools.lru_cache(maxsize=1)
def _family_patterns() -> tuple[re.Pattern[str], ...]:
    """Compiled on first need only (a known table row never needs them)."""
    return (
        re.compile(r"Xeon (Platinum|Gold|Silver|Bronze) (\d)(\d)(\d\d)"),
        re.compile(r"Xeon E[357]-\d{4}\w*(?: v(\d))?"),
        re.compile(r"Xeon 6\d{3}[PE]\b"),
        re.compile(r"EPYC (\d)(\w)(\w)(\d)"),
        re.compile(r"Graviton\s*(\d)(E?)", re.IGNORECASE),
    )


def microarchitecture(model: str) -> str | None:
    """CCF microarchitecture for a normalised model name, or ``None`` when the name does not say.

    Rules (vendor numbering schemes): Xeon Scalable ``<tier> <d><g>xx`` -> generation ``g`` (8375C ->
    Ice Lake); Xeon E5/E7 ``vN`` -> Ivy Bridge/Haswell/Broadwell, no suffix -> Sandy Bridge; Xeon 6
    ``6xxxP/E`` -> Granite Rapids; EPYC 7xxN / 9xxN / 8xxN / 4xxN -> generation from the last digit.
    """
    scalable, e5, xeon6, epyc, graviton = _family_patterns()
    if m := scalable.search(model):
        return _SCALABLE_GEN.get(m.group(3))
    if m := e5.search(model):
        return _E5_GEN.get(m.group(1))
    if xeon6.search(model):
        return "Granite Rapids"
    if m := epyc.search(model):
        return _EPYC_GEN.get(m.group(4))
    if m := graviton.search(model):
        return f"Graviton{m.group(1)}{m.group(2).upper()}"
    return None
