"""Quality stands on a stated sample (issue 18, finding 12): a trained model's metric is computed on at least
QUALITY_MIN_N inputs (the measured queries and more outside the windows), shown with n and a Wilson interval, and on
the digits task it equals the model's recorded held-out accuracy — 8 measured queries no longer show 1.00."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattlens.bench.method import QUALITY_MIN_N
from wattlens.bench.records import BenchRow, CellResult
from wattlens.cli.main import main
from wattlens.stats import wilson_interval
from wattlens.store import open_store


def test_wilson_interval_known_values() -> None:
    assert wilson_interval(1.0, 8)[0] == pytest.approx(0.6756, abs=1e-3)  # 8 of 8 right: as low as 0.68
    low, high = wilson_interval(0.5, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    with pytest.raises(ValueError):
        wilson_interval(0.5, 0)


@pytest.mark.slow
def test_digits_quality_is_the_held_out_accuracy_with_n_and_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "q.sqlite")
    argv = ["bench", "--task", "image-classification", "--model", "digits-mlp", "--queries", "8", "--repeats", "5"]
    assert main([*argv, "--db", db, "--json", "--quiet"]) == 0
    row = BenchRow.from_dict(json.loads(capsys.readouterr().out)[0])
    (cell,) = open_store(db).cells(row.run_id)
    result = CellResult.from_dict(cell["result"])
    held_out = (result.info or {})["training"]["holdout_accuracy"]  # type: ignore[index]
    assert row.quality_n == QUALITY_MIN_N == 450
    assert row.quality == pytest.approx(held_out, abs=1e-4) and row.quality != 1.0
    assert row.quality_low is not None and row.quality_high is not None
    assert row.quality_low < row.quality < row.quality_high and row.quality_high - row.quality_low < 0.1
    assert main(["results", "--db", db, "--run", row.run_id]) == 0
    assert f"n={QUALITY_MIN_N}" in capsys.readouterr().out
