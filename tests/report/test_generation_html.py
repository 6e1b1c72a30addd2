"""The text-generation optimize report as one self-contained HTML page (``optimize --html``, ``report --html``)."""

from __future__ import annotations

from pathlib import Path

from wattlens.optimize.gen_results import GenOptimizeResult, GenQuality, GenTrial, TransformVerdict, VariantQuality
from wattlens.optimize.results import HardwareProfile
from wattlens.report import write_generation_html


def _trial(label: str, j: float, **kw: object) -> GenTrial:
    return GenTrial(
        {"quant": "none"}, label, "full", j_per_token=j, j_per_token_low=j * 0.9, j_per_token_high=j * 1.1,
        j_per_query=j * 6, ttft_p50_ms=12.0, ttft_p95_ms=20.0, itl_p50_ms=3.0, itl_p95_ms=5.0, tokens_per_s=90.0,
        peak_rss_mb=512.0, energy_source="estimated", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_the_page_shows_the_recommendation_every_trial_and_why(tmp_path: Path) -> None:
    quality = GenQuality("token_agreement", 0.97, 0.95, 0.99, 24, 0.97, 0.95, 0.99, 0.01, 0.005, 0.02, "bootstrap")
    base, best = _trial("fp32 t2 b1", 0.31), _trial("int8 t1 b4 <static>", 0.047)
    result = GenOptimizeResult(
        "opt-1", "gpt2@tiny", "online", "token_agreement", 0.95, "greedy", 6, "fixed",
        HardwareProfile("Test CPU", True, False, False, False, False, "AVX2", "x86", True, 2, note="a test host"),
        baseline=base, recommended=best, recommended_quality=quality, saving_factor_j_per_token=6.6,
        saving_factor_low=2.7, saving_factor_high=15.8,
        trials=(base, best, GenTrial({"engine": "onnxruntime"}, "ort", "probe", ok=False, why="export failed")),
        variant_quality=(VariantQuality("int8", quality, True),),
        explain=(TransformVerdict("int8", "won", "VNNI kernels", 3.1),), weights="random",
    )  # fmt: skip
    page = write_generation_html(result, tmp_path / "gen.html").read_text(encoding="utf-8")
    assert "×6.60" in page and "[2.70, 15.80]" in page  # the saving with its interval
    assert "0.047 [0.0423–0.0517]" in page and "n=24 prompts" in page
    assert "int8 t1 b4 &lt;static&gt;" in page  # labels are escaped
    assert "failed: export failed" in page and "VNNI kernels" in page and "×3.10" in page
    assert "Test CPU" in page and "http://" not in page and "https://" not in page  # self-contained
