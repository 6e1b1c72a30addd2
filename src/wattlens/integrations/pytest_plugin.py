"""Energy per test, budgets and baselines for pytest (registered as ``wattlens`` through the ``pytest11`` entry point).

Inactive unless asked: without an ``--energy*`` option and without an ``energy`` marker in the collected tests,
it only registers its options and the marker (nothing of wattlens is imported, nothing is measured).

::

    pytest --energy                          # energy per test, the most expensive ones first (--energy-top N)
    pytest --energy --energy-json e.json     # every test's figures as JSON
    pytest --energy-save main                # keep this run's figures as baseline 'main' (.wattlens/energy/main.json)
    pytest --energy-compare main             # fail a test whose energy interval lies wholly above main's

    @pytest.mark.energy(max_j=5.0)           # fail when the test's net energy is above 5 J *for certain*
    def test_inference_budget(): ...

How the figures are made:

* each test's call phase (not its fixtures) is one window of a shared :class:`~wattlens.tracking.Monitor`;
  default attribution ``process`` (this process tree's energy: other work on the machine is not charged to the
  test), ``--energy-attribution machine`` for the whole machine;
* an idle baseline is measured once at session start (``--energy-idle-s``, default 0.5 s), so that budgets and
  baselines use *net* energy (gross - idle, the interval clamped at 0 and said so); ``--energy-idle-s 0`` uses
  gross energy, stated as the basis;
* a test shorter than ``--energy-min-s`` (default 0.05 s) is called again, up to ``--energy-max-repeats``
  calls (default 10), so that the window is long enough for the meter's resolution; figures are per call.
  The first call decides the test's outcome; a repeat that raises ends the repeats (the test is then noted as
  not repeatable). ``@pytest.mark.energy(repeat=False)`` turns repeats off for one test, ``--energy-min-s 0``
  for all;
* a budget fails a test only when the low end of its interval is above ``max_j``; a baseline comparison fails
  it only when the two intervals do not overlap (the new low end above the baseline's high end), so an
  estimate never fails a build on noise. Baselines from another machine, source or basis are reported as
  not comparable instead of failing.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

MARKER = "energy"
MARKER_ARGS = {
    "max_j": "budget in joules per call (a number >= 0)",
    "repeat": "True/False: repeat a short test to lengthen its window (default True)",
    "min_s": "seconds: the window this test's repeats aim for (>= 0)",
}
ATTRIBUTIONS = ("process", "machine")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULTS = {"top": 10, "min_s": 0.05, "max_repeats": 10, "idle_s": 0.5}
_OPTIONS = ("energy", "energy_json", "energy_save", "energy_compare")


# --- options and marker (always registered; cheap) ------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wattlens", "energy per test (wattlens)")
    group.addoption("--energy", action="store_true", help="measure every test's energy; report the most expensive")
    group.addoption(
        "--energy-top", type=int, default=None, metavar="N", help="tests in the report (default 10, 0: all)"
    )
    group.addoption("--energy-json", metavar="FILE", default=None, help="write every test's energy figures as JSON")
    group.addoption("--energy-save", metavar="NAME", default=None, help="save this run's figures as baseline NAME")
    group.addoption(
        "--energy-compare",
        metavar="NAME",
        default=None,
        help="fail tests whose energy interval lies wholly above baseline NAME's",
    )
    group.addoption(
        "--energy-storage",
        metavar="DIR",
        default=None,
        help="where baselines live (default: <rootdir>/.wattlens/energy)",
    )
    group.addoption(
        "--energy-min-s", type=float, default=None, metavar="S", help="repeat shorter tests up to this window (0.05)"
    )
    group.addoption("--energy-max-repeats", type=int, default=None, metavar="N", help="calls per test at most (10)")
    group.addoption("--energy-idle-s", type=float, default=None, metavar="S", help="idle baseline; 0: gross (0.5)")
    group.addoption(
        "--energy-attribution", default=None, metavar="MODE", help="process (default: this process tree) or machine"
    )
    group.addoption("--energy-sources", default=None, metavar="LIST", help="energy sources, e.g. rapl,nvml,estimator")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(max_j=None, repeat=True, min_s=None): wattlens energy budget / settings for this test "
        "(measured with --energy, or whenever a budget is set)",
    )
    sources = _check_sources(config.getoption("energy_sources"))  # a bad name stops the session before any test
    if _asked(config):
        if (config.getoption("energy_save") or config.getoption("energy_json")) and _xdist_workers(config):
            raise pytest.UsageError(
                "--energy-save and --energy-json collect every test's figures in one process: run them without "
                "pytest-xdist's -n (budgets and --energy-compare work with -n)"
            )
        config.pluginmanager.register(EnergySession(config, everything=True, sources=sources), "wattlens-energy")
    else:
        config.pluginmanager.register(_MarkerWatch(config, sources), "wattlens-energy-watch")


def _xdist_workers(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("numprocesses"))
    except ValueError:  # xdist not installed: no such option
        return False


def _asked(config: pytest.Config) -> bool:
    return any(config.getoption(o) for o in _OPTIONS) or config.getoption("energy_top") is not None


class _MarkerWatch:
    """No option given: start measuring only if some collected test carries an energy marker."""

    def __init__(self, config: pytest.Config, sources: list[str] | None = None) -> None:
        self.config = config
        self.sources = sources

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        marked = [item for item in items if item.get_closest_marker(MARKER) is not None]
        if not marked:
            return
        plugin = EnergySession(config, everything=False, sources=self.sources)
        plugin.check_markers(items)
        config.pluginmanager.register(plugin, "wattlens-energy")


# --- configuration checks -----------------------------------------------------------------------------


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(f"energy_{name}")
    return DEFAULTS[name] if value is None else value


def _check_number(flag: str, value: Any, minimum: float, whole: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
    if bad or value < minimum or (whole and int(value) != value):
        kind = "a whole number" if whole else "a number"
        raise pytest.UsageError(f"{flag} {value!r}: allowed is {kind} >= {minimum:g}")


def _check_name(flag: str, name: str) -> None:
    if not NAME_RE.match(name):
        raise pytest.UsageError(
            f"{flag} {name!r}: a baseline name is 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )


def _check_sources(value: str | None) -> list[str] | None:
    """``--energy-sources``: comma-separated known source names (or their aliases); None when not given."""
    if value is None:
        return None
    from wattlens.meters.discovery import ALIASES, KNOWN_NAMES

    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [n for n in names if n not in KNOWN_NAMES and n not in ALIASES]
    if names and not unknown:
        return names
    what = f"unknown source {unknown[0]!r}" if unknown else "no source named"
    aliases = ", ".join(f"{a}={n}" for a, n in ALIASES.items())
    raise pytest.UsageError(
        f"--energy-sources {value!r}: {what}; allowed: a comma-separated list of {', '.join(KNOWN_NAMES)} "
        f"(aliases {aliases})"
    )


def check_marker(item: Any) -> dict[str, Any]:
    """The energy marker's settings of a test, validated (pytest.UsageError naming what is allowed)."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return {}
    allowed = "; ".join(f"{k}: {v}" for k, v in MARKER_ARGS.items())
    if marker.args:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.energy takes keyword arguments only, got {marker.args!r}; allowed: {allowed}"
        )
    unknown = sorted(set(marker.kwargs) - set(MARKER_ARGS))
    if unknown:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.energy: unknown argument {unknown[0]!r}; allowed: {allowed}"
        )
    spec = dict(marker.kwargs)
    for key in ("max_j", "min_s"):
        value = spec.get(key)
        if value is None:
            continue
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0
        if not ok:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.energy({key}={value!r}): allowed is {MARKER_ARGS[key]}"
            )
    if "repeat" in spec and not isinstance(spec["repeat"], bool):
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.energy(repeat={spec['repeat']!r}): allowed is True or False"
        )
    return spec


# --- the measuring session ----------------------------------------------------------------------------


class EnergySession:
    """Measures tests, checks budgets and baselines, reports and saves (see the module docstring)."""

    def __init__(self, config: pytest.Config, everything: bool, sources: list[str] | None = None) -> None:
        self.config = config
        self.everything = everything  # all tests (an option was given) or only the marked ones
        self.top = _option(config, "top")
        self.min_s = _option(config, "min_s")
        self.max_repeats = _option(config, "max_repeats")
        self.idle_s = _option(config, "idle_s")
        self.attribution = config.getoption("energy_attribution") or "process"
        _check_number("--energy-top", self.top, 0, whole=True)
        _check_number("--energy-min-s", self.min_s, 0)
        _check_number("--energy-max-repeats", self.max_repeats, 1, whole=True)
        _check_number("--energy-idle-s", self.idle_s, 0)
        if self.idle_s > 3600:
            raise pytest.UsageError(f"--energy-idle-s {self.idle_s!r}: allowed is 0 to 3600 seconds")
        if self.attribution not in ATTRIBUTIONS:
            raise pytest.UsageError(f"--energy-attribution {self.attribution!r}: allowed are {', '.join(ATTRIBUTIONS)}")
        self.storage = Path(config.getoption("energy_storage") or (config.rootpath / ".wattlens" / "energy"))
        self.save_name = config.getoption("energy_save")
        self.compare_name = config.getoption("energy_compare")
        if self.save_name is not None:
            _check_name("--energy-save", self.save_name)
        self.baseline = self._load_baseline() if self.compare_name is not None else None
        self.sources = sources  # checked at configure time (_check_sources)
        self.records: list[dict[str, Any]] = []
        self.specs: dict[str, dict[str, Any]] = {}
        self._monitor: Any = None
        self._idle: Any = None
        self._n = 0

    # ---- set-up --------------------------------------------------------------------------------------
    def _load_baseline(self) -> dict[str, Any]:
        name = self.compare_name
        _check_name("--energy-compare", name)
        path = self.storage / f"{name}.json"
        if not path.is_file():
            found = sorted(p.stem for p in self.storage.glob("*.json")) if self.storage.is_dir() else []
            have = ", ".join(found) if found else "none yet (create one with --energy-save NAME)"
            raise pytest.UsageError(f"--energy-compare {name!r}: no such baseline in {self.storage}; available: {have}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data.get("tests"), dict):
                raise ValueError("no 'tests' object")
        except (OSError, ValueError) as exc:
            raise pytest.UsageError(f"--energy-compare {name!r}: {path} is not a wattlens baseline ({exc})") from None
        return data

    @property
    def monitor(self) -> Any:
        """The session's Monitor, created (with the idle baseline) on the first measured test."""
        if self._monitor is None:
            from wattlens.tracking.monitor import Monitor

            try:
                sources = None if self.sources is None else tuple(self.sources)
                self._monitor = Monitor(sources, self.attribution)
            except Exception as exc:  # names are checked at configure time; anything else still says which flag
                raise pytest.UsageError(f"--energy-sources {','.join(self.sources or [])!r}: {exc}") from None
            if self.idle_s > 0:
                self._idle = self._monitor.measure_idle(self.idle_s)
        return self._monitor

    def check_markers(self, items: list) -> None:
        for item in items:
            spec = check_marker(item)
            if spec:
                self.specs[item.nodeid] = spec

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config, items: list) -> None:
        self.check_markers(items)

    def _measured(self, item: Any) -> bool:
        return self.everything or item.nodeid in self.specs

    @property
    def basis(self) -> str:
        return "net" if self.idle_s > 0 else "gross"

    # ---- measuring -------------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        if not self._measured(item):
            return (yield)
        spec = self.specs.get(item.nodeid, {})
        mon = self.monitor
        self._n += 1
        window = f"test#{self._n}"
        mon.begin(window)
        t0 = time.perf_counter()
        try:
            result = yield
        except BaseException:
            mon.cancel(window)  # a failing or skipped test: its outcome is the news, not its energy
            raise
        calls, notes = self._repeat(item, spec, t0)
        m = mon.end(window)
        record = self._record(item, m, calls, notes, spec)
        self.records.append(record)
        failure = self._verdicts(record, spec)
        if failure:
            pytest.fail(failure, pytrace=False)
        return result

    def _repeat(self, item: Any, spec: dict[str, Any], t0: float) -> tuple[int, list[str]]:
        """Call a short test again until its window reaches min_s (bounded by max_repeats)."""
        min_s = spec.get("min_s", self.min_s)
        calls, notes = 1, list[str]()
        if not spec.get("repeat", True):
            return calls, notes
        while calls < self.max_repeats and time.perf_counter() - t0 < min_s:
            try:
                item.runtest()
            except Exception as exc:
                notes.append(
                    f"not repeatable (call {calls + 1} raised {type(exc).__name__}); figures from {calls} call(s); "
                    "mark it @pytest.mark.energy(repeat=False)"
                )
                break
            calls += 1
        return calls, notes

    def _record(self, item: Any, m: Any, calls: int, notes: list[str], spec: dict[str, Any]) -> dict[str, Any]:
        gross, low, high = m.energy_j, m.low_j, m.high_j
        energy, e_low, e_high = gross, low, high
        if self.basis == "net" and gross is not None and self._idle is not None:
            idle = self._idle
            d = m.duration_s
            energy = gross - idle.total_w * d
            e_low = low - sum(idle.high_w.values()) * d
            e_high = high - sum(idle.low_w.values()) * d
            if min(energy, e_low, e_high) < 0:
                notes.append("net energy clamped at 0 J (the test is not distinguishable from idle on this meter)")
                energy, e_low, e_high = max(energy, 0.0), max(e_low, 0.0), max(e_high, 0.0)
        per = lambda v: None if v is None else v / calls
        return {
            "test": item.nodeid,
            "calls": calls,
            "duration_s": m.duration_s / calls,
            "energy_j": per(energy),
            "low_j": per(e_low),
            "high_j": per(e_high),
            "gross_j": per(gross),
            "basis": self.basis,
            "source": m.source,
            "methods": m.methods,
            "attribution": m.attribution,
            "max_j": spec.get("max_j"),
            "verdicts": [],
            "notes": notes + [n for n in m.notes if not n.startswith(("attribution=", "sources not used"))],
        }

    # ---- budgets and baselines -------------------------------------------------------------------------
    def _verdicts(self, rec: dict[str, Any], spec: dict[str, Any]) -> str | None:
        """Set the record's verdicts; the failure message when the test must fail."""
        failures = []
        budget = spec.get("max_j")
        if budget is not None:
            failures += self._budget(rec, float(budget))
        if self.baseline is not None:
            failures += self._compare(rec)
        return "\n".join(failures) or None

    def _budget(self, rec: dict[str, Any], budget: float) -> list[str]:
        low, high = rec["low_j"], rec["high_j"]
        if low is None:
            rec["verdicts"].append("budget: energy unavailable, not checked")
            return []
        if low > budget:
            rec["verdicts"].append(f"over budget {budget:g} J")
            return [
                f"energy budget exceeded for certain: {_fmt(rec)} per call ({rec['basis']}, {rec['source']}, "
                f"{', '.join(rec['methods'])}) > max_j={budget:g} J (even the low end of the interval is above it)"
            ]
        rec["verdicts"].append(f"budget {budget:g} J: " + ("within uncertainty" if high > budget else "ok"))
        return []

    def _compare(self, rec: dict[str, Any]) -> list[str]:
        base = self.baseline["tests"].get(rec["test"]) if self.baseline else None
        name = self.compare_name
        if base is None:
            rec["verdicts"].append(f"new (not in baseline {name!r})")
            return []
        why = _incomparable(rec, base, self.baseline or {})
        if why:
            rec["verdicts"].append(f"not comparable with {name!r}: {why}")
            return []
        if rec["low_j"] is None or base.get("high_j") is None or base.get("low_j") is None:
            rec["verdicts"].append(f"not compared with {name!r}: energy unavailable")
            return []
        change = _change(rec.get("energy_j"), base.get("energy_j"))
        if rec["low_j"] > base["high_j"]:
            rec["verdicts"].append(f"regression vs {name!r}{change}")
            return [
                f"energy regression for certain vs baseline {name!r}: {_fmt(rec)} per call now, "
                f"{_fmt(base)} then{change} — the intervals do not overlap ({rec['basis']}, {rec['source']})"
            ]
        if rec["high_j"] < base["low_j"]:
            rec["verdicts"].append(f"improvement vs {name!r}{change}")
        else:
            rec["verdicts"].append(f"same as {name!r} within uncertainty{change}")
        return []

    # ---- the end of the session ------------------------------------------------------------------------
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.save_name:
            self._save()
        path = self.config.getoption("energy_json")
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(json.dumps(self._summary(), indent=2, default=str), encoding="utf-8")
        if self._monitor is not None:
            self._monitor.close()

    def _summary(self) -> dict[str, Any]:
        from wattlens import __version__

        describe = self._monitor.describe() if self._monitor is not None else {}
        return {
            "wattlens_version": __version__,
            "created_unix_s": time.time(),
            "basis": self.basis,
            "attribution": self.attribution,
            "sources": describe.get("sources"),
            "cpu_power_model": describe.get("cpu_power_model"),
            "idle": None if self._idle is None else self._idle.to_dict(),
            "min_s": self.min_s,
            "max_repeats": self.max_repeats,
            "machine": _machine(),
            "tests": self.records,
        }

    def _save(self) -> None:
        summary = self._summary()
        summary["tests"] = {
            r["test"]: {k: r[k] for k in ("energy_j", "low_j", "high_j", "duration_s", "calls", "source", "methods")}
            for r in self.records
        }
        summary["attribution"] = self.attribution
        self.storage.mkdir(parents=True, exist_ok=True)
        target = self.storage / f"{self.save_name}.json"
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, target)  # a reader never sees half a baseline
        self.saved_to = target

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        terminalreporter.section("wattlens energy")
        if not self.records:
            write("no test was measured (only passing tests are; failed and skipped ones are not)")
            return
        write(self._header())
        repeated = [r for r in self.records if r["calls"] > 1]
        if repeated:
            write(
                f"{len(repeated)} short test(s) were called again until their window reached {self.min_s:g} s "
                f"(at most {self.max_repeats} calls): figures are per call"
            )
        ranked = sorted(self.records, key=lambda r: r["energy_j"] if r["energy_j"] is not None else -1, reverse=True)
        shown = ranked if self.top == 0 else ranked[: self.top]
        write(f"{'energy/call':>12}  {'interval':<24}{'calls':>5}  {'time/call':>10}  test")
        for r in shown:
            iv = "unavailable" if r["low_j"] is None else f"[{_j(r['low_j'])}, {_j(r['high_j'])}]"
            verdict = f"  ({'; '.join(r['verdicts'])})" if r["verdicts"] else ""
            write(
                f"{_j(r['energy_j']):>12}  {iv:<24}{r['calls']:>5}  {r['duration_s'] * 1e3:>8.1f}ms  "
                f"{r['test']}{verdict}"
            )
        if len(ranked) > len(shown):
            write(f"... {len(ranked) - len(shown)} more (--energy-top 0 for all, --energy-json FILE for every figure)")
        if self.baseline is not None:
            write(self._comparison_line())
        if self.save_name:
            write(f"baseline {self.save_name!r} saved to {getattr(self, 'saved_to', self.storage)}")

    def _header(self) -> str:
        describe = self._monitor.describe() if self._monitor is not None else {}
        sources = ", ".join(describe.get("sources") or []) or "none"
        kinds = sorted({r["source"] for r in self.records})
        if self._idle is not None:
            basis = f"net of an idle baseline ({self.idle_s:g} s: {self._idle.total_w:.3g} W)"
        else:
            basis = "gross (no idle baseline: --energy-idle-s 0)"
        return (
            f"{len(self.records)} test(s) measured; energy {basis}; sources {sources} ({', '.join(kinds)}); "
            f"attribution {self.attribution}"
        )

    def _comparison_line(self) -> str:
        counts: dict[str, int] = {}
        for r in self.records:
            for v in r["verdicts"]:
                key = v.split(" ")[0]
                counts[key] = counts.get(key, 0) + 1
        parts = [
            f"{counts.get(k, 0)} {label}"
            for k, label in (
                ("regression", "regression(s) (failed)"),
                ("improvement", "improvement(s)"),
                ("same", "same within uncertainty"),
                ("new", "new"),
                ("not", "not comparable"),
            )
        ]
        return f"baseline {self.compare_name!r}: " + ", ".join(parts)


# --- small helpers ------------------------------------------------------------------------------------


def _incomparable(rec: dict[str, Any], base: dict[str, Any], baseline: dict[str, Any]) -> str | None:
    """Why two figures cannot be compared (another basis, attribution, source or machine), or None."""
    if baseline.get("basis") != rec["basis"]:
        return f"basis {baseline.get('basis')} then, {rec['basis']} now"
    if baseline.get("attribution") != rec["attribution"]:
        return f"attribution {baseline.get('attribution')} then, {rec['attribution']} now"
    if base.get("source") != rec["source"] or list(base.get("methods") or []) != list(rec["methods"]):
        return f"measured by {base.get('source')} ({', '.join(base.get('methods') or [])}) then"
    machine = baseline.get("machine") or {}
    if machine and machine.get("cpu") != _machine().get("cpu"):
        return f"another machine ({machine.get('cpu')})"
    return None


def _machine() -> dict[str, Any]:
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "python": platform.python_version()}


def _change(now: float | None, then: float | None) -> str:
    if now is None or not then:
        return ""
    return f", central {(now / then - 1) * 100:+.0f} %"


def _j(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value != 0 and abs(value) < 0.01:
        return f"{value * 1e3:.3g} mJ"
    return f"{value:.4g} J"


def _fmt(rec: dict[str, Any]) -> str:
    return f"{_j(rec.get('energy_j'))} [{_j(rec.get('low_j'))}, {_j(rec.get('high_j'))}]"
