"""CPU model detection, model-name normalisation and power-table lookup (no sensor needed).

Two bundled tables feed the estimator (both documented in ``docs/DATA.md``):

* ``cpu_power.csv`` (§3): vendor TDP per CPU model, keyed by a *normalised* model name.
* ``cloud_vcpu_power.csv`` (§4): Cloud Carbon Footprint's per-vCPU idle/full-load watts per
  microarchitecture (SPECpower-derived).

Cost matters here because ``Monitor()`` must be ready before Zeus's ``ZeusMonitor()`` (a few ms): the
4,693-row CPU table is never parsed as a whole, and nothing here imports ``re``, ``csv``, ``typing`` or
``functools`` (each 1-7 ms to import on the development VM). The table's rows are sorted by lower-case
model, so an exact lookup is a binary search over the file's bytes (~13 rows decoded), and the prefix
fallback bounds the rows extending a name with two more searches and counts them with one
``bytes.count``. Profiled: the former prefix fallback split every matching line, 17 ms for this VM's
bare "Intel Xeon" (1,327 rows); a linear ``str.find`` per query still cost 0.15-0.3 ms each.

>>> normalise_model_name("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz")
'Intel Xeon Gold 6338'
>>> normalise_model_name("AMD EPYC 9654 96-Core Processor")
'AMD EPYC 9654'
>>> lookup_cpu("AMD EPYC 9654").tdp_w
360.0
"""

from __future__ import annotations

import os

from wattlens.meters.base import Record

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
class CpuInfo(Record):
    """What this machine says about its CPU."""

    __slots__ = ("raw_model", "model", "logical_cpus", "virtualised", "source")  # noqa: RUF023 - the order is the field order
    raw_model: str  # as reported ("" when nothing could be read)
    model: str  # normalised
    logical_cpus: int  # os.cpu_count(): vCPUs of a VM, hardware threads of a bare-metal host
    virtualised: bool  # the "hypervisor" CPU flag (Linux) is set
    source: str  # where raw_model came from

    def __init__(self, raw_model: str, model: str, logical_cpus: int, virtualised: bool, source: str) -> None:
        self._init(raw_model, model, logical_cpus, virtualised, source)


_DETECTED: list[CpuInfo] = []


def detect_cpu() -> CpuInfo:
    """Read the CPU model once per process (cached): /proc/cpuinfo, sysctl on macOS, else platform."""
    if _DETECTED:
        return _DETECTED[0]
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
    info = CpuInfo(raw, normalise_model_name(raw) if raw else "", os.cpu_count() or 1, virt, src)
    _DETECTED.append(info)
    return info


# --- cpu_power.csv lookup -------------------------------------------------------------------------------
class CpuRecord(Record):
    """One row of ``cpu_power.csv``."""

    __slots__ = ("vendor", "model", "cores", "threads", "tdp_w", "power_kind", "source", "match")  # noqa: RUF023 - the order is the field order
    vendor: str
    model: str
    cores: int | None
    threads: int | None
    tdp_w: float
    power_kind: str
    source: str
    match: str

    def __init__(
        self,
        vendor: str,
        model: str,
        cores: int | None,
        threads: int | None,
        tdp_w: float,
        power_kind: str,
        source: str,
        match: str = MATCH_EXACT,
    ) -> None:
        self._init(vendor, model, cores, threads, tdp_w, power_kind, source, match)

    @property
    def citation(self) -> str:
        return f"cpu_power.csv row '{self.model}' ({self.tdp_w:g} W {self.power_kind}; {self.source})"


_TABLE: list[bytes] = []  # the file's bytes, read once per process
_HEADER = b"vendor,model,cores,threads,tdp_w,power_kind,source\n"


def _table() -> bytes:
    """``cpu_power.csv`` as bytes. Its rows are sorted by ``model.lower()`` (tests/meters/test_cpu.py checks it),
    so that a lookup is a binary search over the file: ~13 rows looked at instead of 4,693 parsed."""
    if not _TABLE:
        with open(CPU_TABLE, "rb") as f:
            data = f.read()
        if not data.startswith(_HEADER):
            raise ValueError(f"{CPU_TABLE}: unexpected header {data[:80]!r}")
        _TABLE.append(data)
    return _TABLE[0]


def _split_row(line: str) -> list[str]:
    if '"' not in line:  # 12 of 4,693 rows quote a model name that holds a comma
        return line.split(",")
    import csv  # lazy: only those rows need it

    return next(csv.reader([line]))


def _row_key(line: str) -> str:
    """The sort and lookup key of a row: its model, lower case."""
    parts = _split_row(line)
    return parts[1].lower() if len(parts) > 1 else ""


def _parse_row(line: str, match: str) -> CpuRecord | None:
    parts = _split_row(line)
    if len(parts) != 7:
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


def _line(data: bytes, start: int) -> tuple[str, int]:
    """The row starting at byte ``start`` and the offset just past its newline."""
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    return data[start:end].decode("utf-8"), min(end + 1, len(data))


def _lower_bound(key: str) -> int:
    """Byte offset of the first row whose key is >= ``key`` (``len(data)`` when there is none)."""
    data = _table()
    lo, hi = len(_HEADER), len(data)  # lo and hi are row starts; rows before lo < key <= rows from hi
    while lo < hi:
        mid = (lo + hi) // 2
        nl = data.rfind(b"\n", lo, mid)
        start = lo if nl < 0 else nl + 1
        line, after = _line(data, start)
        if _row_key(line) < key:
            lo = after
        else:
            hi = start
    return lo


def _row_at(pos: int) -> str:
    data = _table()
    return _line(data, pos)[0] if pos < len(data) else ""


def _exact(key: str) -> str | None:
    """The row whose model is ``key`` (lower case), or None."""
    line = _row_at(_lower_bound(key))
    return line if line and _row_key(line) == key else None


_LOOKUPS: dict[tuple[str, bool], CpuRecord | None] = {}


def _extending(key: str) -> tuple[int, int]:
    """(count, offset of the first) of the rows whose model starts with ``key + " "``: they sort between
    ``key + " "`` and ``key + "!"`` (the character after the space), so two binary searches bound them."""
    lo, hi = _lower_bound(key + " "), _lower_bound(key + "!")
    return _table().count(b"\n", lo, hi), lo


def _shorter(key: str) -> list[str]:
    """The rows whose model is a shorter word-prefix of ``key`` ("key" extends them)."""
    words = key.split(" ")
    rows = [_exact(" ".join(words[:n])) for n in range(len(words) - 1, 0, -1)]
    return [r for r in rows if r is not None]


def lookup_cpu(model: str, allow_prefix: bool = True) -> CpuRecord | None:
    """The table row for a *normalised* model name: exact (case-insensitive) first.

    The prefix fallback accepts a row only when it is the *single* row whose name extends the given name
    by more words (or that the given name extends): "AMD EPYC" matches 148 rows and is therefore left
    unmatched rather than silently mapped to one of them (Carbontracker's "AMD EPYC 7232P" mistake).
    Results are cached per process.
    """
    if not model:
        return None
    cache_key = (model, allow_prefix)
    if cache_key not in _LOOKUPS:
        _LOOKUPS[cache_key] = _lookup(model.lower(), allow_prefix)
    return _LOOKUPS[cache_key]


def _lookup(key: str, allow_prefix: bool) -> CpuRecord | None:
    line = _exact(key)
    if line is not None:
        return _parse_row(line, MATCH_EXACT)
    if not allow_prefix:
        return None
    (n_extending, first), shorter = _extending(key), _shorter(key)
    if n_extending + len(shorter) != 1:
        return None
    return _parse_row(shorter[0] if shorter else _row_at(first), MATCH_PREFIX)


def prefix_candidates(model: str) -> int:
    """How many table rows a prefix match would consider (for notes: '148 candidates, ambiguous')."""
    if not model:
        return 0
    key = model.lower()
    return _extending(key)[0] + len(_shorter(key))


# --- cloud_vcpu_power.csv ------------------------------------------------------------------------------
class VcpuRow(Record):
    """One row of ``cloud_vcpu_power.csv``."""

    __slots__ = ("provider", "microarchitecture", "min_w_per_vcpu", "max_w_per_vcpu", "source", "note")  # noqa: RUF023 - the order is the field order
    provider: str
    microarchitecture: str
    min_w_per_vcpu: float
    max_w_per_vcpu: float
    source: str
    note: str

    def __init__(
        self,
        provider: str,
        microarchitecture: str,
        min_w_per_vcpu: float,
        max_w_per_vcpu: float,
        source: str,
        note: str = "",
    ) -> None:
        self._init(provider, microarchitecture, min_w_per_vcpu, max_w_per_vcpu, source, note)

    @property
    def citation(self) -> str:
        watts = f"{self.min_w_per_vcpu}-{self.max_w_per_vcpu} W"
        return f"cloud_vcpu_power.csv {self.provider}/{self.microarchitecture} ({watts})"


_CLOUD: list[tuple[VcpuRow, ...]] = []
_CLOUD_COLUMNS = ("provider", "microarchitecture", "min_w_per_vcpu", "max_w_per_vcpu", "source", "note")


def cloud_vcpu_rows() -> tuple[VcpuRow, ...]:
    """All 37 rows (small file, parsed once per process)."""
    if not _CLOUD:
        with open(CLOUD_TABLE, encoding="utf-8") as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        header = _split_row(lines[0])
        if tuple(header) != _CLOUD_COLUMNS:
            raise ValueError(f"{CLOUD_TABLE}: columns {header}, expected {list(_CLOUD_COLUMNS)}")
        rows = []
        for line in lines[1:]:
            provider, family, low_w, high_w, source, note = _split_row(line)
            rows.append(VcpuRow(provider, family, float(low_w), float(high_w), source, note))
        _CLOUD.append(tuple(rows))
    return _CLOUD[0]


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


# --- model number -> microarchitecture (CCF's family names) ---------------------------------------------
# Only server lines that appear in cloud fleets. Plain string scanning, no regular expressions: compiling the
# five patterns this replaces cost 2 ms of every first Monitor() on a cloud VM (tests/meters/test_cpu.py checks
# the scanner against those patterns over every model of the table).
_SCALABLE_GEN = {"1": "Skylake", "2": "Cascade Lake", "3": "Ice Lake", "4": "Sapphire Rapids", "5": "Emerald Rapids"}
_SCALABLE_TIERS = ("Platinum", "Gold", "Silver", "Bronze")
_E5_GEN = {None: "Sandy Bridge", "2": "Ivy Bridge", "3": "Haswell", "4": "Broadwell"}
_EPYC_GEN = {"1": "EPYC 1st Gen", "2": "EPYC 2nd Gen", "3": "EPYC 3rd Gen", "4": "EPYC 4th Gen", "5": "EPYC 5th Gen"}
_DIGITS = "0123456789"


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _digits_at(s: str, i: int, n: int) -> bool:
    return len(s) >= i + n and all(c in _DIGITS for c in s[i : i + n])


def _after_each(s: str, marker: str) -> list[int]:
    """Index just after every occurrence of ``marker`` in ``s``."""
    out, pos = [], s.find(marker)
    while pos >= 0:
        out.append(pos + len(marker))
        pos = s.find(marker, pos + 1)
    return out


def _xeon_scalable(s: str) -> str | bool | None:
    """Xeon <tier> <d><g>xx -> generation g; False when the pattern is absent."""
    for i in _after_each(s, "Xeon "):
        for tier in _SCALABLE_TIERS:
            j = i + len(tier) + 1
            if s.startswith(tier + " ", i) and _digits_at(s, j, 4):
                return _SCALABLE_GEN.get(s[j + 1])
    return False


def _xeon_e5(s: str) -> str | bool | None:
    """Xeon E5/E7-dddd[suffix][ vN] -> N (none: Sandy Bridge); False when absent."""
    for i in _after_each(s, "Xeon E"):
        if len(s) > i + 1 and s[i] in "357" and s[i + 1] == "-" and _digits_at(s, i + 2, 4):
            j = i + 6
            while j < len(s) and _word_char(s[j]):
                j += 1
            version = s[j + 2] if s.startswith(" v", j) and _digits_at(s, j + 2, 1) else None
            return _E5_GEN.get(version)
    return False


def _xeon_6(s: str) -> bool:
    """Xeon 6ddd[P|E] (Granite Rapids / Sierra Forest naming, 2024)."""
    for i in _after_each(s, "Xeon 6"):
        k = i + 3
        if _digits_at(s, i, 3) and len(s) > k and s[k] in "PE" and (len(s) == k + 1 or not _word_char(s[k + 1])):
            return True
    return False


def _epyc(s: str) -> str | bool | None:
    """EPYC <d><w><w><g> -> generation g; False when absent."""
    for i in _after_each(s, "EPYC "):
        if len(s) >= i + 4 and s[i] in _DIGITS and _word_char(s[i + 1]) and _word_char(s[i + 2]):
            if s[i + 3] in _DIGITS:
                return _EPYC_GEN.get(s[i + 3])
    return False


def _graviton(s: str) -> str | None:
    """Graviton[ ]<d>[E] (any case)."""
    low = s.lower()
    for i in _after_each(low, "graviton"):
        while i < len(low) and low[i].isspace():
            i += 1
        if i < len(low) and low[i] in _DIGITS:
            suffix = "E" if low.startswith("e", i + 1) else ""
            return f"Graviton{low[i]}{suffix}"
    return None


def microarchitecture(model: str) -> str | None:
    """CCF microarchitecture for a normalised model name, or ``None`` when the name does not say.

    Rules (vendor numbering schemes): Xeon Scalable ``<tier> <d><g>xx`` -> generation ``g`` (8375C ->
    Ice Lake); Xeon E5/E7 ``vN`` -> Ivy Bridge/Haswell/Broadwell, no suffix -> Sandy Bridge; Xeon 6
    ``6xxxP/E`` -> Granite Rapids; EPYC 7xxN / 9xxN / 8xxN / 4xxN -> generation from the last digit.
    """
    if not any(c in _DIGITS for c in model):  # every rule needs a model number
        return None
    for rule in (_xeon_scalable, _xeon_e5):
        found = rule(model)
        if found is not False:
            return found if isinstance(found, str) else None
    if _xeon_6(model):
        return "Granite Rapids"
    found = _epyc(model)
    if found is not False:
        return found if isinstance(found, str) else None
    return _graviton(model)
