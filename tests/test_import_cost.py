"""``import wattlens`` must stay light: no torch / numpy / pandas / SQLAlchemy, nothing of the meter yet."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "numpy", "pandas", "sqlalchemy", "transformers", "matplotlib", "psutil")
INTEGRATED = ("mlflow", "lightning", "pytorch_lightning", "accelerate", "IPython")  # the integrations' libraries
SERVING = ("fastapi", "prometheus_client", "opentelemetry", "starlette", "uvicorn", "httpx")  # the serving extra


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_wattlens_imports_nothing_heavy() -> None:
    mods = _modules_after("import wattlens")
    assert not {m.split(".")[0] for m in mods} & set(HEAVY)
    assert "wattlens.tracking" not in mods and "wattlens.meters.estimator" not in mods  # all lazy
    assert not {m.split(".")[0] for m in mods} & {*INTEGRATED, *SERVING}
    assert not any(m.startswith(("wattlens.integrations", "wattlens.serving")) for m in mods)


def test_the_pytest_plugin_module_imports_nothing_of_wattlens_until_asked() -> None:
    """It is loaded by every pytest run in an environment with wattlens (the pytest11 entry point)."""
    mods = _modules_after("import wattlens.integrations.pytest_plugin")
    assert "wattlens.tracking" not in mods and "wattlens.meters" not in mods
    assert not {m.split(".")[0] for m in mods} & {*HEAVY, *INTEGRATED}


def test_first_monitor_and_measure_stay_light() -> None:
    mods = _modules_after(
        "import wattlens\nwith wattlens.measure('x', country='FR') as m:\n    pass\nm2 = wattlens.Monitor(); m2.close()"
    )
    assert not {m.split(".")[0] for m in mods} & {"torch", "numpy", "pandas", "sqlalchemy"}


def test_the_web_package_imports_no_server_stack_until_it_serves() -> None:
    """``wattlens.web`` (and its exports) import neither Starlette nor uvicorn: only ``wattlens serve`` does."""
    mods = _modules_after("import wattlens, wattlens.web, wattlens.web.aiesc, wattlens.web.mlenergy")
    assert not {m.split(".")[0] for m in mods} & {"starlette", "uvicorn", "anyio", "torch", "numpy"}


def test_the_distributed_layer_imports_neither_ray_nor_torch_unless_used() -> None:
    """wattlens.distributed.measure in a process without a process group: no torch, no ray, no store."""
    mods = _modules_after(
        "import wattlens\nassert not any(m.startswith('wattlens.distributed') for m in sys.modules)\n"
        "import wattlens.distributed as wd\nwith wd.measure('x') as m:\n    pass\nassert m.result.complete"
    )
    assert not {m.split(".")[0] for m in mods} & {"torch", "ray", "numpy", "sqlalchemy"}
    assert "wattlens.distributed.ray_sweep" not in mods


def test_the_exporter_needs_neither_prometheus_client_nor_opentelemetry() -> None:
    """``wattlens exporter`` (without --otlp) writes the text format itself: no client library, no web stack."""
    mods = _modules_after(
        "import wattlens.serving.exporter as e\nx = e.Exporter(e.EnergyCounters()); x.scrape(); x.close()"
    )
    assert not {m.split(".")[0] for m in mods} & {*SERVING, "torch", "numpy", "sqlalchemy"}
