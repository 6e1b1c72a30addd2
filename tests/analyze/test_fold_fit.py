"""Layer folding and shape fits: the folded / fitted op graph equals the one traced in full, op for op."""

from __future__ import annotations

import pytest
import torch

from tests.analyze.helpers import tiny_llama
from wattlens.analyze import fit as FT
from wattlens.analyze import phases as P
from wattlens.analyze import presets
from wattlens.analyze.fold import fold_layers, layer_copies, same_op
from wattlens.analyze.graph import FIELDS, IDX, sum_field


def _deep(layers: int = 8):
    return presets.from_module(tiny_llama(layers=layers, hidden=128, heads=4, kv=2, vocab=512).to(torch.bfloat16))


def _totals(recs):
    return {f: sum_field(recs, f) for f in FIELDS}


def test_folded_forward_equals_the_full_trace():
    w = _deep(8)
    d = P.plan(w)
    assert d.folding and d.layers == 8
    folded, _ = P._forward_records(d, 2, 64, "prefill")
    full, _ = P._forward_records(P.Depths(w), 2, 64, "prefill")  # no shallow copies: the whole model
    assert len(folded) < len(full)  # 8 layers stand in 3 layers' records
    for f, v in _totals(full).items():
        assert _totals(folded)[f] == pytest.approx(v, rel=1e-12, abs=1e-9), f
    # every folded record names the layers it stands for: 2..7
    block = [r for r in folded if r.mult > 1]
    assert block and all(r.mult == 6 for r in block)
    mods = {m for r in block for m, _ in layer_copies(r)}
    assert any(".layers.7." in m for m in mods) and not any(".layers.8." in m for m in mods)


def test_a_stack_whose_layers_differ_is_not_folded():
    w = _deep(8)
    d = P.plan(w)
    r2 = P._forward_records(P.Depths(d.shallow[2]), 1, 32, "prefill")[0]
    r3 = P._forward_records(P.Depths(d.shallow[3]), 1, 32, "prefill")[0]
    r4 = P._forward_records(P.Depths(d.shallow[4]), 1, 32, "prefill")[0]
    assert fold_layers(r2, r3, r4, 8) is not None
    bad = [*r4[:5], *r4[6:]]  # one op missing in the 4-layer check: the rule does not hold
    assert fold_layers(r2, r3, bad, 8) is None


def test_decode_fit_equals_direct_traces_at_other_batches_and_contexts():
    w = _deep(6)
    pre, dec = P.trace_generate(w, 2, 40, 8, include_prefill=True)
    assert dec.fit is not None and pre.fit is not None
    # read the graph at batch 5, contexts 40..47, and trace one of those steps directly
    recs = dec.fit.steps(5, 40, 8)
    direct = P.Steps(P.plan(w), 40).at(5, 44)
    at44 = [r.v0[IDX["hi_kv_cache"]] + 44 * r.v1[IDX["hi_kv_cache"]] for r in recs]
    assert [r.v0[IDX["hi_kv_cache"]] for r in direct] == pytest.approx(at44, rel=1e-9)
    assert sum(r.n * r.mult for r in recs) == 8 * sum(r.mult for r in direct)


def test_fit_check_rejects_a_wrong_polynomial():
    w = _deep(6)
    d = P.plan(w)
    traced = {(b, 64): P._forward_records(d, b, 64, "forward")[0] for b in (1, 2, 3)}
    fit = FT.fit(traced, FT.BATCH_ONLY, check=[(3, 64)])
    assert all(same_op(x, y) for x, y in zip(fit.at(3, 64), traced[(3, 64)], strict=True))
    # corrupt the check point: the fit must refuse
    traced[(3, 64)][0].v0[IDX["flops"]] += 1.0
    with pytest.raises(FT.FitError, match="not the fitted polynomial"):
        FT.fit(traced, FT.BATCH_ONLY, check=[(3, 64)])


def test_gather_reads_are_clamped_to_the_table_after_the_fit():
    # a sweep fitted at small shapes evaluated where the gathered rows exceed the embedding table
    w = _deep(6)
    traces = P.trace_grid(w, "prefill", [16, 64], new_tokens=4)
    fit = traces[0].fit
    emb = next(i for i, r in enumerate(fit.template) if r.v0[IDX["table_bytes"]] > 0)
    table = fit.template[emb].v0[IDX["table_bytes"]]
    big = fit.at(64, 4096)[emb]
    assert big.v0[IDX["lo_weights"]] == pytest.approx(table)  # 262144 rows of a 512-row table: read at most once
    small = fit.at(1, 16)[emb]
    assert small.v0[IDX["lo_weights"]] < table
