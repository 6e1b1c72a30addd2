"""The one real-model check: on all-MiniLM-L6-v2, per-tensor int8 and mask-only pruning are caught by the
*measured* quality gate (no rule names them), while per-channel ORT int8 passes (anchors §4: 0.961 / 0.71 /
0.993 mean cosine)."""

from __future__ import annotations

import pytest

from wattlens.optimize import engine as E
from wattlens.optimize.variants import VariantBank


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
def test_gate_on_real_minilm(tmp_path) -> None:
    req = E.OptimizeRequest(model="minilm", quality_inputs=48, store_url=str(tmp_path / "m.sqlite"))
    bank = VariantBank(req, str(tmp_path))
    bank.hold_aside()
    spec = bank.base_spec()
    ort = {**spec, "engine": "onnxruntime", "precision": "int8"}
    variants = [
        {**ort, "quant": "per-tensor"},
        {**ort, "quant": "per-channel"},
        {**spec, "prune": "mask-50"},
        {**ort, "quant": "per-channel", "prune": "mask-50"},
    ]
    passed = bank.screen(variants)
    assert passed == [{**ort, "quant": "per-channel"}]
    why = {(r.config.get("quant"), r.config.get("prune")): r for r in bank.rejections.items}
    assert why[("per-tensor", None)].quality < 0.99  # measured, with its number
    assert why[(None, "mask-50")].quality < 0.9
    assert "not built" in why[("per-channel", "mask-50")].why  # its lossy part failed alone
    q_pc = bank.quality_of({**ort, "quant": "per-channel"}, 1, False)
    assert 0.99 <= q_pc.quality < 0.9999 and q_pc.metrics["cosine_min"] > 0.95
