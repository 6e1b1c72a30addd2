"""A library that behaves: no wattlens module changes process-wide state.

Importing any module, loading a model, searching with Optuna or quantising with ONNX Runtime leaves the
environment, the root logger and the libraries' own verbosity as the caller had them. The library logs
through ``logging.getLogger(__name__)`` under a ``wattlens`` logger that carries a ``NullHandler``; only
the CLI prints (``wattlens.cli.main.configure_output``).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "wattlens"
# variables wattlens once wrote into os.environ behind its users' backs
HUB_AND_TOKENIZER_ENV = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
    "TOKENIZERS_PARALLELISM",
    "TRANSFORMERS_VERBOSITY",
    "DIFFUSERS_VERBOSITY",
)


def _run(code: str, drop_env: tuple[str, ...] = HUB_AND_TOKENIZER_ENV) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in drop_env}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


_SNAPSHOT = """
import json, logging, os, sys
def snapshot():
    root = logging.getLogger()
    handlers = [type(h).__name__ for h in root.handlers]
    return {"env": dict(os.environ), "root_level": root.level, "root_handlers": handlers}
"""


# Importing these imports the library they integrate, whose own import sets process state (Lightning sets
# PYTORCH_NVML_BASED_CUDA_CHECK and TORCHINDUCTOR_CACHE_DIR): the user's choice when they use that integration.
_IMPORTS_ITS_LIBRARY = {"wattlens.integrations.lightning"}


def _library_modules() -> list[str]:
    mods = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        if not name.startswith(("wattlens.cli", "wattlens.__main__")) and name not in _IMPORTS_ITS_LIBRARY:
            mods.append(name)
    return mods


@pytest.mark.slow
def test_importing_every_module_changes_nothing_process_wide() -> None:
    code = (
        _SNAPSHOT
        + f"""
import importlib
before = snapshot()
for name in {_library_modules()!r}:
    importlib.import_module(name)
after = snapshot()
logging.getLogger("wattlens.x").warning("must not reach stderr")
print(json.dumps({{"before": before, "after": after,
    "null": any(isinstance(h, logging.NullHandler) for h in logging.getLogger("wattlens").handlers)}}))
"""
    )
    out = _run(code)
    assert out["after"]["root_level"] == out["before"]["root_level"]
    assert out["after"]["root_handlers"] == out["before"]["root_handlers"] == []
    added = {k: v for k, v in out["after"]["env"].items() if out["before"]["env"].get(k) != v}
    assert added == {}
    assert out["null"], "the wattlens package logger must carry a NullHandler once a module that logs is imported"


@pytest.mark.slow
def test_loading_models_writes_no_hub_variables() -> None:
    """MiniLM from its package and a random-weight preset load with local files only, env untouched."""
    code = (
        _SNAPSHOT
        + """
before = snapshot()
from wattlens.workloads import minilm
from wattlens.workloads.registry import load_workload
minilm.load_tokenizer(); minilm.load_encoder()
w = load_workload("text-classification", "distilbert-base-uncased", queries=2)
after = snapshot()
print(json.dumps({"before": before, "after": after}))
"""
    )
    out = _run(code)
    for key in HUB_AND_TOKENIZER_ENV:
        assert key not in out["after"]["env"], f"{key} was written into os.environ"
    assert out["after"]["root_level"] == out["before"]["root_level"]
    assert out["after"]["root_handlers"] == []


def test_ort_quantiser_does_not_configure_the_root_logger() -> None:
    """ORT's "consider pre-processing" advice uses logging.warning(), which would basicConfig the root."""
    code = (
        _SNAPSHOT
        + """
import logging
from wattlens.optimize.transforms import _root_logger_left_alone
before = snapshot()
with _root_logger_left_alone():
    logging.warning("Please consider to run pre-processing before quantization")  # what ORT does
after = snapshot()
print(json.dumps({"before": before, "after": after}))
"""
    )
    out = _run(code)
    assert out["before"]["root_handlers"] == out["after"]["root_handlers"] == []


def test_the_optimizer_turns_tokenizer_threads_off_only_while_it_measures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The search run and a distributed worker's trials run inside ``serial_tokenizers``: set while inside, the
    caller's environment given back after (unset stays unset, a caller's own value is kept), even on an error."""
    from wattlens.optimize.engine import serial_tokenizers

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    with pytest.raises(RuntimeError), serial_tokenizers():
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
        raise RuntimeError("a trial failed")
    assert "TOKENIZERS_PARALLELISM" not in os.environ
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    with serial_tokenizers():
        assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_optuna_verbosity_is_given_back() -> None:
    optuna = pytest.importorskip("optuna")
    from wattlens.optimize import search as S
    from wattlens.optimize import synthetic as Y

    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        sf = Y.Surface(seed=0)
        S.optuna_search(Y.small_knobs(), sf.evaluate, S.default_rungs(50, 1), 4, S.Constraints(), seed=0)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(optuna.logging.INFO)


# --- a static guard, so the next regression is caught at review time ----------------------------------
# files allowed to touch the process: the CLI owns it; the optimize worker is a subprocess whose stdout
# is its protocol; the engine sets TOKENIZERS_PARALLELISM for one run and restores it.
_PRINT_ALLOWED = {"optimize/worker.py"}
_ENV_WRITE_ALLOWED = {"optimize/engine.py"}


def _violations(rel: str, text: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print" and rel not in _PRINT_ALLOWED:
                found.append(f"{rel}:{node.lineno} print() — log with get_logger(__name__) instead")
            if isinstance(f, ast.Attribute):
                target = ast.unparse(f.value)
                if f.attr == "basicConfig" or (f.attr == "setLevel" and target == "logging.getLogger()"):
                    found.append(f"{rel}:{node.lineno} configures the root logger")
                if target == "os.environ" and f.attr in ("setdefault", "update", "pop", "__setitem__"):
                    if rel not in _ENV_WRITE_ALLOWED:
                        found.append(f"{rel}:{node.lineno} writes os.environ")
                if f.attr in ("set_verbosity_error", "disable_progress_bar") or target == "os.putenv":
                    found.append(f"{rel}:{node.lineno} changes a library's process-wide setting")
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ":
                    found.append(f"{rel}:{node.lineno} writes os.environ")
    return found


def test_no_library_module_prints_or_writes_process_state() -> None:
    paths = [p for p in sorted(SRC.rglob("*.py")) if p.relative_to(SRC).parts[0] != "cli"]
    problems = [v for p in paths for v in _violations(str(p.relative_to(SRC)), p.read_text())]
    assert problems == []


def test_the_static_guard_sees_each_kind_of_violation() -> None:
    text = (
        "import os, logging\nprint('x')\nos.environ['A'] = '1'\nos.environ.setdefault('B', '1')\n"
        "logging.getLogger().setLevel(40)\nlogging.basicConfig()\n"
    )
    assert len(_violations("store/probe.py", text)) == 5
    assert len(_violations("optimize/worker.py", "print('protocol line')\n")) == 0


def test_every_module_that_logs_puts_the_null_handler_on_the_package_logger() -> None:
    """A module creating its logger must import ``wattlens._logging`` (its ``get_logger`` does): ``import
    wattlens`` stays free of ``logging``, so that import is what puts the NullHandler on ``wattlens``."""
    missing = []
    for path in sorted(SRC.rglob("*.py")):
        rel = str(path.relative_to(SRC))
        if rel in ("_logging.py", "cli/main.py"):  # the helper itself; the CLI configures output
            continue
        text = path.read_text()
        if "getLogger(__name__)" in text and "wattlens._logging" not in text:
            missing.append(f"{rel}: use `from wattlens._logging import get_logger; logger = get_logger(__name__)`")
    assert missing == []
