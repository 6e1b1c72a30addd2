"""``--explain``: verdicts per transform from a result, and what int8 can gain on a given CPU (pure Python)."""

from __future__ import annotations

from wattlens.optimize.explain import encoder_verdicts
from wattlens.optimize.gen_space import int8_expectation
from wattlens.optimize.results import (
    ConfigDict,
    HardwareProfile,
    OptimizeContext,
    OptimizePoint,
    OptimizeResult,
    Rejection,
    SkippedTransform,
    TransformInfo,
    TrialPoint,
)


def _hw(avx512: bool = False, avx512_vnni: bool = False, amx: bool = False) -> HardwareProfile:
    return HardwareProfile(
        "cpu",
        avx2=True,
        avx512=avx512,
        avx512_vnni=avx512_vnni,
        avx_vnni=False,
        amx=amx,
        torch_cpu_capability="AVX2",
        quantized_engine="x86",
        int4_cpu_kernel=True,
        n_cpus=2,
    )


def test_int8_expectation_depends_on_the_isa() -> None:
    assert "without VNNI" in int8_expectation(_hw())
    assert "VNNI" in int8_expectation(_hw(avx512=True, avx512_vnni=True)) and "4x" in int8_expectation(
        _hw(avx512_vnni=True)
    )
    assert "AMX" in int8_expectation(_hw(amx=True))


def test_encoder_verdicts_say_won_lost_skipped_and_rejected() -> None:
    ort8: ConfigDict = {"engine": "onnxruntime", "precision": "int8", "threads": 1, "batch": 4}
    ort: ConfigDict = {"engine": "onnxruntime", "precision": "fp32", "threads": 1, "batch": 4}
    torch_pt: ConfigDict = {"engine": "torch", "precision": "int8", "threads": 1, "batch": 1}
    r = OptimizeResult(
        recommended=OptimizePoint(ort8, 0.01, "ort int8"),
        trials=(TrialPoint(ort8, "a", 0.01, 0.995, 5, 9, 100), TrialPoint(ort, "b", 0.02, 1.0, 5, 9, 100)),
        transforms=tuple(
            TransformInfo(n, "k", (), "", True, True, None) for n in ("ort-int8-dynamic", "torch-int8-dynamic", "bf16")
        ),
        skipped_transforms=(SkippedTransform("bf16", "no native bf16"),),
        rejected=(Rejection(torch_pt, "quality 0.9 < min 0.99", "torch int8"),),
        context=OptimizeContext(2, 2, None, None, "cpu", 0, "trained", hardware=_hw()),
    )
    v = {x.transform: x for x in encoder_verdicts(r)}
    assert v["ort-int8-dynamic"].verdict == "won" and v["ort-int8-dynamic"].factor_vs_baseline == 2.0
    assert "without VNNI" in v["ort-int8-dynamic"].why
    assert v["bf16"].verdict == "skipped" and v["bf16"].why == "no native bf16"
    assert v["torch-int8-dynamic"].verdict == "rejected" and "0.9 < min" in v["torch-int8-dynamic"].why
