"""Shape-parametric traces: every op's counts as an exact polynomial in batch and length, from a few traces.

On the meta device an op's FLOPs and bytes are polynomials in the batch B and the sequence length S (or the
decode context c): linear layers ~ B·S, attention ~ B·S², weights ~ 1, KV reads ~ B·c. We trace at as many
shape points as the polynomial has terms, solve for each op's coefficients, and check the fit at one more
traced point, op for op. A verified fit evaluates any (B, S) without tracing again: the batching lever, the
co-design sweeps and a cached analysis at another batch read it. Torch-free.

Variables are scaled by reference values (``b_ref``, ``s_ref``) so that the small linear systems stay well
conditioned; the inverse of the design matrix is computed once, exactly (fractions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from wattlens.analyze.fold import same_op
from wattlens.analyze.graph import FIELDS, IDX, Record, copy_record
from wattlens.errors import WattlensError

Monomial = tuple[int, int]  # (exponent of B, exponent of S or c)

BATCH_ONLY: tuple[Monomial, ...] = ((0, 0), (1, 0))
CONTEXT_ONLY: tuple[Monomial, ...] = ((0, 0), (0, 1))
BATCH_CONTEXT: tuple[Monomial, ...] = ((0, 0), (1, 0), (0, 1), (1, 1))
BATCH_SEQ2: tuple[Monomial, ...] = ((0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2))
REL_TOL = 1e-9


def lever_batch(batch: int) -> int:
    """The batch the batching lever moves to (and the shape fits are checked at)."""
    return batch * 4 if batch < 64 else batch * 2


class FitError(WattlensError, ValueError):
    """The traces do not share one op structure, or the polynomial does not reproduce the check point."""


def _invert(m: list[list[Fraction]]) -> list[list[Fraction]]:
    n = len(m)
    aug = [[*row, *(Fraction(int(i == j)) for j in range(n))] for i, row in enumerate(m)]
    for col in range(n):
        piv = next((r for r in range(col, n) if aug[r][col] != 0), None)
        if piv is None:
            raise FitError("fit points do not determine the polynomial (singular design)")
        aug[col], aug[piv] = aug[piv], aug[col]
        p = aug[col][col]
        aug[col] = [x / p for x in aug[col]]
        for r in range(n):
            if r != col and aug[r][col] != 0:
                f = aug[r][col]
                aug[r] = [x - f * y for x, y in zip(aug[r], aug[col], strict=True)]
    return [row[n:] for row in aug]


@dataclass
class ShapeFit:
    """Per-op polynomial coefficients over ``basis`` in (B / b_ref, S / s_ref)."""

    basis: tuple[Monomial, ...]
    template: list[Record]  # module paths, names, roles, dtypes, mult of the traced ops
    coef: list[list[list[float]]]  # [op][monomial][field]
    b_ref: float
    s_ref: float
    points: list[tuple[int, int]]  # the traced (B, S) the fit went through
    checked: list[tuple[int, int]]  # the traced (B, S) it was verified at

    def values(self, b: float, s: float) -> list[list[float]]:
        """Every op's field vector at (b, s) (gathers from a weight table clamped to the table, as captured)."""
        x, y = b / self.b_ref, s / self.s_ref
        w = [x**a * y**e for a, e in self.basis]
        out = [[sum(wk * ck[f] for wk, ck in zip(w, op, strict=True)) for f in range(len(FIELDS))] for op in self.coef]
        for v in out:
            _clamp_gather(v)
        return out

    def at(self, b: int, s: int, phase: str = "") -> list[Record]:
        """Plain records (one op per record, n = 1) at batch ``b`` and length ``s``."""
        out = []
        for t, v in zip(self.template, self.values(b, s), strict=True):
            r = copy_record(t)
            r.v0, r.v1, r.n, r.c0 = v, [0.0] * len(FIELDS), 1, 0
            r.phase = phase or t.phase
            out.append(r)
        return out

    def steps(self, b: int, c_first: int, n: int, phase: str = "decode") -> list[Record]:
        """Decode records summing ``n`` steps at contexts c_first .. c_first+n-1 (needs a basis affine in c)."""
        if any(e > 1 for _, e in self.basis):
            raise FitError("decode steps need counts affine in the context")
        x = b / self.b_ref
        out = []
        for t, op in zip(self.template, self.coef, strict=True):
            v0 = [0.0] * len(FIELDS)
            v1 = [0.0] * len(FIELDS)
            for (a, e), ck in zip(self.basis, op, strict=True):
                k = x**a / (self.s_ref**e)
                tgt = v1 if e == 1 else v0
                for f in range(len(FIELDS)):
                    tgt[f] += k * ck[f]
            _clamp_gather(v0)
            r = copy_record(t)
            r.v0, r.v1, r.n, r.c0, r.phase = v0, v1, n, c_first, phase
            out.append(r)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "basis": [list(m) for m in self.basis],
            "template": [r.to_json() for r in self.template],
            "coef": self.coef,
            "b_ref": self.b_ref,
            "s_ref": self.s_ref,
            "points": [list(p) for p in self.points],
            "checked": [list(p) for p in self.checked],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ShapeFit:
        return cls(
            tuple((int(a), int(e)) for a, e in d["basis"]),
            [Record.from_json(r) for r in d["template"]],
            d["coef"],
            float(d["b_ref"]),
            float(d["s_ref"]),
            [(int(b), int(s)) for b, s in d["points"]],
            [(int(b), int(s)) for b, s in d["checked"]],
        )


_TABLE, _OUT = IDX["table_bytes"], IDX["out_bytes"]
_W = (IDX["lo_weights"], IDX["hi_weights"])


def _unclamped(v: list[float]) -> list[float]:
    """A gather's weight reads before the clamp to its table: the rows gathered (= what it writes)."""
    if v[_TABLE] <= 0:
        return v
    u = list(v)
    for i in _W:
        if u[i] > 0:
            u[i] = u[_OUT]
    return u


def _clamp_gather(v: list[float]) -> None:
    if v[_TABLE] > 0:
        for i in _W:
            v[i] = min(v[i], v[_TABLE])


def same_structure(a: Sequence[Record], b: Sequence[Record]) -> bool:
    return len(a) == len(b) and all(
        x.signature() == y.signature() and x.mult == y.mult for x, y in zip(a, b, strict=False)
    )


def fit(
    traced: dict[tuple[int, int], list[Record]],
    basis: tuple[Monomial, ...],
    check: Sequence[tuple[int, int]] = (),
) -> ShapeFit:
    """Fit the polynomial through the traced points (exactly as many as ``basis`` has terms, excluding the
    ``check`` points) and verify it at every check point. Raises :class:`FitError` when it does not hold."""
    pts = [p for p in traced if p not in check]
    if len(pts) != len(basis):
        raise FitError(f"{len(pts)} fit points for {len(basis)} polynomial terms")
    first = traced[pts[0]]
    for p, recs in traced.items():
        if not same_structure(first, recs):
            raise FitError(f"the op structure at batch {p[0]}, length {p[1]} differs from the first fit point")
    b_ref = float(max(b for b, _ in pts))
    s_ref = float(max(max(s for _, s in pts), 1))
    design = [
        [(Fraction(b) / Fraction(int(b_ref))) ** a * (Fraction(s) / Fraction(int(s_ref))) ** e for a, e in basis]
        for b, s in pts
    ]
    inv = [[float(x) for x in row] for row in _invert(design)]
    nf = len(FIELDS)
    coef: list[list[list[float]]] = []
    for k in range(len(first)):
        vals = [_unclamped(traced[p][k].v0) for p in pts]
        coef.append(
            [[sum(inv[m][j] * vals[j][f] for j in range(len(pts))) for f in range(nf)] for m in range(len(basis))]
        )
    sf = ShapeFit(basis, [copy_record(r) for r in first], coef, b_ref, s_ref, pts, list(check))
    for p in check:
        pred = sf.at(*p)
        if not all(same_op(x, y) for x, y in zip(pred, traced[p], strict=True)):
            raise FitError(f"the counts at batch {p[0]}, length {p[1]} are not the fitted polynomial")
    return sf


__all__ = ["BATCH_CONTEXT", "BATCH_ONLY", "BATCH_SEQ2", "FitError", "ShapeFit", "fit", "lever_batch", "same_structure"]
