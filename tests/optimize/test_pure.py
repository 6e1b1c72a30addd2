"""The search, the space and the energy accounting are pure Python: their tests run with torch unimportable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = [
    "tests/optimize/test_search.py",
    "tests/optimize/test_space.py",
    "tests/optimize/test_accounting.py::test_meter_rss_comes_from_the_memory_component",
    "tests/optimize/test_accounting.py::test_search_process_rss_does_not_leak_into_per_config_energy",
    "tests/optimize/test_accounting.py::test_measured_dram_energy_is_not_rescaled",
    "tests/optimize/test_accounting.py::test_fresh_process_footprint_sets_the_primary_saving_factor",
    "tests/optimize/test_accounting.py::test_a_point_without_a_footprint_model_keeps_its_measured_energy",
    "tests/optimize/test_engine.py::test_probe_prune_skips_hopeless_configs",
    "tests/optimize/test_engine.py::test_parse_duration",
]
# torch (and numpy, transformers) made unimportable before pytest collects anything: any import fails loudly
CODE = """
import sys
for name in ("torch", "transformers", "onnxruntime"):
    sys.modules[name] = None
import pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", "-x", *sys.argv[1:]])
assert "torch" not in [m for m, v in sys.modules.items() if v is not None]
sys.exit(code)
"""


def test_pure_tests_need_no_torch() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE, *PURE], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "skipped" not in out.stdout and "deselected" not in out.stdout
