"""Generated bad input for the two file formats users write: suite TOML (``wattlens bench --suite``) and model
configs (``wattlens analyze config.json``). Whatever the content, the answer is a result or one clear error (exit
2, one line, no traceback) — never a crash (issue 18, "Keep it fixed").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from wattlens.bench.suites import SUITE_KEYS, Suite, SuiteError, load_suite, validate  # noqa: E402
from wattlens.cli.main import main  # noqa: E402

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
KEYS = st.one_of(st.sampled_from(sorted(SUITE_KEYS)), st.text(max_size=12))
TASK_NAMES = st.one_of(st.sampled_from(["text-generation", "image-classification", "fill-mask"]), st.text(max_size=20))
TASK = st.fixed_dictionaries(
    {"name": st.one_of(TASK_NAMES, SCALARS)},
    optional={
        "models": st.one_of(st.lists(st.one_of(st.text(max_size=20), SCALARS), max_size=3), SCALARS),
        "batch": VALUES,
    },
)
SUITES = st.fixed_dictionaries(
    {},
    optional={
        "suite": st.one_of(st.dictionaries(KEYS, VALUES, max_size=6), SCALARS),
        "task": st.one_of(st.lists(TASK, max_size=3), SCALARS),
    },
)


@settings(max_examples=200, deadline=None)
@given(SUITES)
def test_any_parsed_suite_is_a_suite_or_a_suite_error(data: dict) -> None:
    try:
        suite = validate(data, "", "<generated>")
    except SuiteError as exc:
        assert str(exc).strip()  # says what is wrong
        return
    assert isinstance(suite, Suite) and suite.cells


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
def test_any_suite_file_text_is_a_suite_or_a_suite_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_suite(str(path))
    except SuiteError as exc:
        assert str(exc).strip()


# Configs that can never build a model (no usable model_type): the error path must hold for any content, and
# stays fast (a valid random config would build and trace a model).
BAD_MODEL_TYPE = st.one_of(st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2), st.just("no-such-type"))
CONFIGS = st.one_of(
    st.dictionaries(st.text(max_size=10), VALUES, max_size=5).map(lambda d: {**d, "model_type": None}),
    st.builds(
        lambda d, t: {**d, "model_type": t}, st.dictionaries(st.text(max_size=10), VALUES, max_size=5), BAD_MODEL_TYPE
    ),
    VALUES,
)


@pytest.mark.slow  # imports torch and transformers
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(CONFIGS)
def test_any_bad_analyze_config_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], config: object
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    assert main(["analyze", str(path), "--no-levers", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert str(path) in err
