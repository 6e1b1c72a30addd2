"""Ratios of two analyses: the correlated interval (shared profile constants cancel) against the naive quotient."""

from __future__ import annotations

import pytest

from wattlens.analyze.analysis import analyze
from wattlens.analyze.ratio import naive_ratio, ratio_interval


def _gen(model: str, hw: str = "h200", **kw: object):
    return analyze(model, hw, phase="generate", prompt=16, new_tokens=4, dtype="fp32", levers=False, **kw)


@pytest.mark.parametrize("quantity", ["energy", "time"])
def test_shared_constants_cancel_the_interval_is_much_narrower_than_the_naive_quotient(quantity):
    a, b = _gen("distilgpt2"), _gen("gpt2")
    r = ratio_interval(a, b, quantity)
    assert r.naive.low <= r.ratio.low <= r.ratio.mid <= r.ratio.high <= r.naive.high
    mids = (a.energy("mid") / b.energy("mid")) if quantity == "energy" else (a.time("mid") / b.time("mid"))
    assert r.ratio.mid == pytest.approx(mids)
    assert r.width < 0.25 * (r.naive.high / r.naive.low)
    assert any(g.shared for g in r.groups)


def test_net_energy_at_the_node_boundary():
    kw = {"host": "same-cpu", "boundary": "node", "node": "h200-wattlens-bench"}
    a, b = _gen("distilgpt2", **kw), _gen("gpt2", **kw)
    r = ratio_interval(a, b, "net")
    assert r.ratio.low <= r.ratio.mid <= r.ratio.high
    assert r.width < r.naive.high / r.naive.low
    with pytest.raises(ValueError, match="node boundary"):
        ratio_interval(_gen("distilgpt2"), _gen("gpt2"), "net")


def test_two_analyses_that_share_nothing_get_the_naive_quotient():
    a, b = _gen("distilgpt2", "h200", host="same-cpu"), _gen("distilgpt2", "a100", host="unknown")
    r = ratio_interval(a, b, "energy")
    assert not any(g.shared for g in r.groups)
    assert r.ratio == naive_ratio(a.energy_range(), b.energy_range()) == r.naive
