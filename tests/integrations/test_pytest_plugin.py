"""The pytest energy plugin, exercised through real pytest sessions (pytest's own ``pytester``)."""

from __future__ import annotations

import json

import pytest

TESTS = """
import pytest

def test_heavy():
    sum(i * i for i in range(2_000_000))

def test_light():
    sum(range(1000))

@pytest.mark.energy(max_j=1e-9)
def test_over_budget():
    sum(i * i for i in range(300_000))

@pytest.mark.energy(max_j=1e6)
def test_within_budget():
    sum(i * i for i in range(300_000))
"""
FAST = ["-p", "no:cacheprovider", "--energy-idle-s", "0.1"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*FAST, *args)


def test_report_budgets_and_json(pytester: pytest.Pytester):
    pytester.makepyfile(test_demo=TESTS)
    result = _run(pytester, "--energy", "--energy-json", "energy.json")
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "wattlens energy" in out and "net of an idle baseline" in out
    result.stdout.fnmatch_lines(["*energy budget exceeded for certain*max_j=1e-09 J*"])
    assert "called again until their window reached 0.05 s" in out  # short tests repeated, and said so
    lines = [ln for ln in out.splitlines() if "test_demo.py::" in ln and " J" in ln]
    assert "test_heavy" in lines[0]  # the most expensive first
    data = json.loads((pytester.path / "energy.json").read_text())
    recs = {r["test"].split("::")[1]: r for r in data["tests"]}
    assert set(recs) == {"test_heavy", "test_light", "test_over_budget", "test_within_budget"}
    for r in recs.values():
        assert 0 <= r["low_j"] <= r["energy_j"] <= r["high_j"] and r["source"] == "estimated"
    assert recs["test_light"]["calls"] > 1 and recs["test_heavy"]["calls"] == 1
    assert recs["test_heavy"]["energy_j"] > recs["test_light"]["energy_j"]
    assert recs["test_within_budget"]["verdicts"] == ["budget 1e+06 J: ok"]
    assert data["basis"] == "net" and data["attribution"] == "process" and data["idle"]["duration_s"] > 0


def test_a_budget_marker_alone_activates_only_the_marked_tests(pytester: pytest.Pytester):
    pytester.makepyfile(test_demo=TESTS)
    result = _run(pytester)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    assert "2 test(s) measured" in out and "test_heavy" not in out.split("wattlens energy")[1]


def test_inactive_without_options_or_markers(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_plain="""
        def test_plugin_is_idle(request):
            pm = request.config.pluginmanager
            assert pm.hasplugin("wattlens")  # registered through the pytest11 entry point
            assert pm.get_plugin("wattlens-energy") is None  # but not measuring
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "wattlens energy" not in result.stdout.str()


def _baseline(pytester: pytest.Pytester) -> tuple:
    path = pytester.path / ".wattlens" / "energy" / "main.json"
    return path, json.loads(path.read_text())


def test_save_and_compare_fail_only_without_overlap(pytester: pytest.Pytester):
    pytester.makepyfile(test_demo=TESTS)
    _run(pytester, "--energy-save", "main", "-k", "heavy or light").assert_outcomes(passed=2)
    path, base = _baseline(pytester)
    assert set(base["tests"]) == {"test_demo.py::test_heavy", "test_demo.py::test_light"}

    same = _run(pytester, "--energy-compare", "main", "-k", "heavy or light")
    same.assert_outcomes(passed=2)
    same.stdout.fnmatch_lines(
        ["*baseline 'main': 0 regression(s) (failed), 0 improvement(s), 2 same within uncertainty*"]
    )

    heavy = base["tests"]["test_demo.py::test_heavy"]
    for k in ("energy_j", "low_j", "high_j"):
        heavy[k] /= 1000.0  # the baseline's heavy test was 1000 x cheaper: intervals cannot overlap now
    light = base["tests"]["test_demo.py::test_light"]
    for k in ("energy_j", "low_j", "high_j"):
        light[k] *= 1000.0
    path.write_text(json.dumps(base))
    worse = _run(pytester, "--energy-compare", "main", "-k", "heavy or light")
    worse.assert_outcomes(passed=1, failed=1)
    worse.stdout.fnmatch_lines(
        ["*energy regression for certain vs baseline 'main'*the intervals do not overlap*", "*improvement vs 'main'*"]
    )


def test_a_baseline_from_another_attribution_is_not_compared(pytester: pytest.Pytester):
    pytester.makepyfile(test_demo=TESTS)
    _run(pytester, "--energy-save", "main", "-k", "heavy").assert_outcomes(passed=1)
    path, base = _baseline(pytester)
    base["attribution"] = "machine"
    for k in ("energy_j", "low_j", "high_j"):
        base["tests"]["test_demo.py::test_heavy"][k] /= 1000.0
    path.write_text(json.dumps(base))
    result = _run(pytester, "--energy-compare", "main", "-k", "heavy")
    result.assert_outcomes(passed=1)
    assert "not comparable with 'main': attribution machine then, process now" in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "marker", "message"),
    [
        (["--energy-compare", "nope"], "", "*--energy-compare 'nope': no such baseline*available: main*"),
        (["--energy-save", "../evil"], "", "*--energy-save '../evil': a baseline name is*"),
        (["--energy", "--energy-min-s", "-1"], "", "*--energy-min-s -1.0: allowed is a number >= 0*"),
        (["--energy", "--energy-attribution", "node"], "", "*allowed are process, machine*"),
        ([], "max_j=-5", "*energy(max_j=-5): allowed is budget in joules per call (a number >= 0)*"),
        ([], "maxj=5", "*unknown argument 'maxj'; allowed: max_j*repeat*min_s*"),
        ([], "5", "*takes keyword arguments only*"),
    ],
)
def test_bad_configuration_is_a_usage_error_naming_what_is_allowed(pytester, args, marker, message):
    (pytester.path / ".wattlens" / "energy").mkdir(parents=True)
    (pytester.path / ".wattlens" / "energy" / "main.json").write_text('{"tests": {}}')
    deco = f"@pytest.mark.energy({marker})\n" if marker else ""
    pytester.makepyfile(test_bad=f"import pytest\n{deco}def test_x():\n    pass\n")
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_a_test_that_cannot_run_twice_keeps_its_first_verdict(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_once="""
        import pytest
        calls = []

        def test_once():
            assert not calls
            calls.append(1)

        @pytest.mark.energy(repeat=False)
        def test_no_repeat():
            pass
        """
    )
    result = _run(pytester, "--energy", "--energy-json", "e.json")
    result.assert_outcomes(passed=2)
    recs = {r["test"].split("::")[1]: r for r in json.loads((pytester.path / "e.json").read_text())["tests"]}
    assert recs["test_once"]["calls"] == 1 and "not repeatable" in recs["test_once"]["notes"][0]
    assert recs["test_no_repeat"]["calls"] == 1


def test_energy_top_shows_exactly_n_tests(pytester: pytest.Pytester):
    light = "".join(f"def test_light_{i}():\n    sum(range(1000))\n\n" for i in range(4))
    pytester.makepyfile(test_many=f"def test_heavy():\n    sum(i * i for i in range(2_000_000))\n\n{light}")
    result = _run(pytester, "--energy-top", "2", "--energy-min-s", "0")
    result.assert_outcomes(passed=5)
    report = result.stdout.str().split("wattlens energy")[1]
    shown = [ln for ln in report.splitlines() if "test_many.py::" in ln]
    assert len(shown) == 2 and shown[0].endswith("test_many.py::test_heavy")  # the most expensive first
    assert "5 test(s) measured" in report and "... 3 more (--energy-top 0 for all" in report


@pytest.mark.parametrize("activation", [["--energy"], []], ids=["option", "marker"])
def test_a_bad_energy_source_stops_the_session_before_any_test(pytester: pytest.Pytester, activation):
    pytester.makepyfile(
        test_src="""
        import pytest

        @pytest.mark.energy(max_j=1e6)
        def test_x():
            pass
        """
    )
    result = _run(pytester, *activation, "--energy-sources", "rapl,bogus")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--energy-sources 'rapl,bogus': unknown source 'bogus'; allowed: *rapl, nvml, amd, apple, estimator*"]
    )
    assert "Traceback" not in result.stderr.str() and "collected" not in result.stdout.str()  # no test ran
