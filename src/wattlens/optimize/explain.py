"""``wattlens optimize --explain`` for encoder runs: why each transform won or lost *on this hardware*.

For every transform: skipped (why it does not apply here), rejected (the quality gate's reason), or the measured
factor between the best full-fidelity trial using it and the best one without it; int8's verdict says what this
CPU's instruction sets let int8 gain (VNNI/AMX or not). Pure Python over a stored :class:`OptimizeResult`.
"""

from __future__ import annotations

from collections.abc import Callable

from wattlens.optimize.gen_results import TransformVerdict
from wattlens.optimize.results import Config, OptimizeResult

_USES: dict[str, Callable[[Config], bool]] = {
    "torch-int8-dynamic": lambda c: c.get("precision") == "int8" and c.get("engine") == "torch",
    "ort-int8-dynamic": lambda c: c.get("precision") == "int8" and c.get("engine") == "onnxruntime",
    "onnxruntime": lambda c: c.get("engine") == "onnxruntime",
    "bf16": lambda c: c.get("precision") == "bf16",
    "fp16": lambda c: c.get("precision") == "fp16",
    "structured-prune": lambda c: str(c.get("prune", "none")).startswith("struct"),
    "mask-prune": lambda c: str(c.get("prune", "none")).startswith("mask"),
    "torch-compile": lambda c: bool(c.get("compile")),
    "wait-policy": lambda c: c.get("wait", "default") not in ("default", None),
    "batching": lambda c: int(str(c.get("batch") or 1)) > 1,
    "length-sort": lambda c: bool(c.get("sort")),
    "threads": lambda c: int(str(c.get("threads") or 1)) == 1,
}


def encoder_verdicts(r: OptimizeResult) -> list[TransformVerdict]:
    """One verdict per transform of the run (see the module docstring)."""
    from wattlens.optimize.gen_space import int8_expectation

    hw = r.context.hardware if r.context is not None else None
    out = [TransformVerdict(s.transform, "skipped", s.why or "") for s in r.skipped_transforms]
    skipped = {s.transform for s in r.skipped_transforms}
    rec = r.recommended.config if r.recommended is not None else {}
    measured = [t for t in r.trials if t.j_per_query]
    for t in r.transforms:
        name = t.name
        uses = _USES.get(name)
        if name in skipped or uses is None:
            continue
        with_t = [x.j_per_query for x in measured if uses(x.config) and x.j_per_query]
        without = [x.j_per_query for x in measured if not uses(x.config) and x.j_per_query]
        rejected = [x for x in r.rejected if uses(x.config) and "quality" in x.why]
        if not with_t or not without:
            why = "; ".join(f"{x.label}: {x.why}" for x in rejected[:2]) or "no full-fidelity trial with and without it"
            out.append(TransformVerdict(name, "rejected" if rejected else "not-measured", why))
            continue
        factor = min(without) / min(with_t)
        why = f"best with it {min(with_t) * 1e3:.3f} mJ/q vs best without {min(without) * 1e3:.3f} mJ/q ({factor:.2f}x)"
        if "int8" in name and hw is not None:
            why += f"; {int8_expectation(hw)}"
        verdict = "won" if uses(rec) else ("lost" if factor <= 1 else "helped, not chosen")
        out.append(TransformVerdict(name, verdict, why, factor))
    return out
