"""Re-typing a captured op graph to another number format, without tracing again.

The counts of an op do not depend on its dtype except through bytes per element, so a graph traced in bf16
answers fp32, fp16 and the 8-bit formats:

* ``fp32`` / ``fp16`` / ``bf16``: every tensor moves to that format -- bytes scale by the ratio of element sizes
  (integer tensors such as token ids scale too: they are a negligible share), matrix ops run at that dtype's peak;
* ``fp8`` / ``int8``: W8A8 GEMMs and convolutions (weights and activations of those ops in one byte, the
  dtype's tensor-core peak and energy per op), everything else -- norms, softmax, the KV cache -- stays in the
  traced format (as FP8 serving engines run it).

Torch-free.
"""

from __future__ import annotations

from wattlens.analyze import roles as R
from wattlens.analyze.graph import IDX, Record, copy_record

BYTES = {"fp32": 4.0, "tf32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}
DTYPES = ("fp32", "bf16", "fp16", "fp8", "int8")
_ALL_BYTES = [f"{b}_{c}" for b in ("lo", "hi") for c in ("weights", "activations", "kv_cache", "optimizer")]
_GEMM_BYTES = [f"{b}_{c}" for b in ("lo", "hi") for c in ("weights", "activations")]


def _scale(r: Record, fields: list[str], k: float) -> None:
    for f in fields:
        r.v0[IDX[f]] *= k
        r.v1[IDX[f]] *= k


def retype(records: list[Record], traced: str, target: str) -> list[Record]:
    """``records`` (traced in ``traced``) as they would be in ``target`` (see the module docstring)."""
    if target not in DTYPES:
        raise ValueError(f"unknown dtype {target!r}; allowed: {', '.join(DTYPES)}")
    if target == traced:
        return records
    src = BYTES.get(traced, 2.0)
    out = []
    for r in records:
        c = copy_record(r)
        if target in ("fp8", "int8"):
            if c.kind == "matrix" and c.role in (R.GEMM, R.CONV):
                _scale(c, _GEMM_BYTES, 1.0 / src)
                c.dtype = target
        elif c.kind != "host":
            _scale(c, [*_ALL_BYTES, "out_bytes", "table_bytes"], BYTES[target] / src)
            if c.dtype in BYTES:
                c.dtype = target
        out.append(c)
    return out


def note(traced: str, target: str) -> str:
    if target in ("fp8", "int8"):
        return (
            f"{target}: traced in {traced} and re-typed from the op graph -- GEMMs/convolutions W8A8 in {target} "
            f"(1-byte weights and activations, {target} peak and energy per op), norms, softmax and KV cache in "
            f"{traced}"
        )
    return f"{target}: traced in {traced} and re-typed from the op graph (bytes x {BYTES[target] / BYTES[traced]:g})"


__all__ = ["DTYPES", "note", "retype"]
