"""Tensor parallelism (Megatron-style) as a rewrite of the captured op graph: what one device of a group of
``n`` does, plus the all-reduces that the split costs.

Rules (an approximation, stated in the report):
- GEMMs, attention, KV-cache traffic and embeddings are split n ways (column/row-parallel linears, heads and
  vocabulary sharded): FLOPs and bytes / n per device;
- elementwise work inside attention/MLP modules works on sharded tensors (/ n); norms, residual adds and
  everything outside those modules is replicated (each device does all of it);
- one all-reduce of the layer output after each row-parallel GEMM (attention output projection, MLP down
  projection): ring all-reduce sends 2(n-1)/n x S bytes per device over the interconnect.
"""

from __future__ import annotations

from wattlens.analyze import roles as R
from wattlens.analyze.graph import FIELDS, IDX, Record, copy_record

ROW_PARALLEL = (
    "o_proj",
    "down_proj",
    "attn.c_proj",
    "mlp.c_proj",
    "out_proj",
    "attention.output.dense",
    "output.dense",
    "fc2",
    ".wo",
    "dense_4h_to_h",
    "w2",
    "to_out.0",
)
_SHARDED_ROLES = (R.GEMM, R.ATTENTION, R.KV_CACHE, R.EMBEDDING, R.CONV)


def _scale_all(r: Record, k: float, skip: tuple[str, ...] = ("launch_lo", "launch_hi")) -> None:
    for f in FIELDS:
        if f not in skip:
            r.v0[IDX[f]] *= k
            r.v1[IDX[f]] *= k


def _row_parallel(module: str) -> bool:
    return module.endswith(ROW_PARALLEL) and "intermediate" not in module


def tensor_parallel(records: list[Record], n: int) -> list[Record]:
    if n <= 1:
        return records
    out: list[Record] = []
    for r in records:
        c = copy_record(r)
        low = r.module.lower()
        inside = R.is_attention_module(r.module) or "mlp" in low or "feed_forward" in low or "ffn" in low
        sharded = r.role in _SHARDED_ROLES or (r.role == R.ELEMENTWISE and inside and "norm" not in low)
        if sharded:
            _scale_all(c, 1.0 / n)
        out.append(c)
        if r.role == R.GEMM and r.kind == "matrix" and _row_parallel(r.module):
            ar = Record(
                "all_reduce",
                R.COLLECTIVE,
                r.module,
                r.dtype,
                "comm",
                False,
                [0.0] * len(FIELDS),
                [0.0] * len(FIELDS),
                r.n,
                r.c0,
                r.phase,
                r.mult,
            )
            share = 2.0 * (n - 1) / n
            ar.v0[IDX["link_bytes"]] = share * r.v0[IDX["out_bytes"]]
            ar.v1[IDX["link_bytes"]] = share * r.v1[IDX["out_bytes"]]
            # the reduction itself: read + write the buffer once (fused into the collective kernel)
            for f in ("lo_activations", "hi_activations"):
                ar.v0[IDX[f]] = 2 * r.v0[IDX["out_bytes"]]
                ar.v1[IDX[f]] = 2 * r.v1[IDX["out_bytes"]]
            bpe = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0}.get(r.dtype, 2.0)
            ar.v0[IDX["flops_vector"]] = (n - 1) / n * r.v0[IDX["out_bytes"]] / bpe  # the reduction's adds
            ar.v0[IDX["launch_lo"]] = ar.v0[IDX["launch_hi"]] = 1.0
            out.append(ar)
    return out
