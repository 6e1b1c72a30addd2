"""The captured op graph, torch-free: op records, phase traces, model facts, and their JSON form.

Everything the energy model, the levers, the sweeps and the trace cache work on lives here, so that an analysis
whose trace is cached runs without importing torch (``capture`` and ``phases`` produce these objects; nothing
here imports them).

A :class:`Record` is one op -- or one op repeated: over decode steps (``n`` steps at contexts ``c0 .. c0+n-1``,
every numeric field affine in the context: ``v0 + v1·c``) and over identical layers (``mult`` copies, the layer
folding of :mod:`wattlens.analyze.fold`). ``total()`` sums over both.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CATEGORIES: tuple[str, ...] = ("weights", "activations", "kv_cache", "optimizer")
# numeric fields of a record, in this order (affine integration works on these vectors)
FIELDS: tuple[str, ...] = (
    "flops",
    "flops_useful",
    "flops_vector",
    *(f"lo_{c}" for c in CATEGORIES),
    *(f"hi_{c}" for c in CATEGORIES),
    "launch_lo",
    "launch_hi",
    "out_bytes",  # bytes the op writes (for collectives inserted by the tensor-parallel model)
    "link_bytes",  # bytes sent over the device-to-device link (collectives)
    "table_bytes",  # a gather from a weight table: the table's bytes (its reads are min(rows gathered, table))
)
IDX = {name: i for i, name in enumerate(FIELDS)}
LO = [IDX[f"lo_{c}"] for c in CATEGORIES]
HI = [IDX[f"hi_{c}"] for c in CATEGORIES]


@dataclass
class Record:
    """One op (or one op repeated over decode steps and identical layers). Numeric fields in ``v0 + v1·c`` form
    for steps at contexts c = c0 .. c0+n-1; a plain op has n=1, c0=0, v1=0, mult=1."""

    name: str
    role: str
    module: str
    dtype: str
    kind: str
    unsupported: bool
    v0: list[float]
    v1: list[float] = field(default_factory=lambda: [0.0] * len(FIELDS))
    n: int = 1
    c0: int = 0
    phase: str = ""
    mult: int = 1  # identical copies (layers 2 .. L-1 of a folded stack: same op, same counts)

    def total(self, f: str) -> float:
        i = IDX[f]
        return (self.n * self.v0[i] + self.v1[i] * self.ctx_sum()) * self.mult

    def ctx_sum(self) -> float:
        return self.n * (2 * self.c0 + self.n - 1) / 2.0

    def bytes_lo(self) -> float:
        return sum(self.total(FIELDS[i]) for i in LO)

    def bytes_hi(self) -> float:
        return sum(self.total(FIELDS[i]) for i in HI)

    def signature(self) -> tuple[Any, ...]:
        """What makes two records the same op for folding and fitting (everything but the module path)."""
        return (self.name, self.role, self.dtype, self.kind, self.unsupported)

    def to_json(self) -> list[Any]:
        return [
            self.name,
            self.role,
            self.module,
            self.dtype,
            self.kind,
            self.unsupported,
            self.v0,
            self.v1 if any(self.v1) else 0,
            self.n,
            self.c0,
            self.phase,
            self.mult,
        ]

    @classmethod
    def from_json(cls, row: list[Any]) -> Record:
        name, role, module, dtype, kind, unsupported, v0, v1, n, c0, phase, mult = row
        return cls(
            name,
            role,
            module,
            dtype,
            kind,
            bool(unsupported),
            [float(x) for x in v0],
            [float(x) for x in v1] if v1 else [0.0] * len(FIELDS),
            int(n),
            int(c0),
            phase,
            int(mult),
        )


def copy_record(r: Record) -> Record:
    return Record(
        r.name, r.role, r.module, r.dtype, r.kind, r.unsupported, list(r.v0), list(r.v1), r.n, r.c0, r.phase, r.mult
    )


def sum_field(records: Iterable[Record], f: str) -> float:
    return math.fsum(r.total(f) for r in records)


def ops_of(records: Iterable[Record]) -> float:
    """Ops executed: every record counted over its steps and copies."""
    return float(sum(r.n * r.mult for r in records))


@dataclass
class PhaseTrace:
    """One phase (forward, prefill, decode, train) of a workload, as counted records."""

    phase: str
    records: list[Record]
    ops_dispatched: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    traced_contexts: list[int] = field(default_factory=list)
    exact: bool = True
    tokens: int = 0  # tokens processed (prefill/forward/train) or generated (decode)
    state_bytes: dict[str, float] = field(default_factory=dict)  # resident state at the end: kv_cache, optimizer
    steps: int = 1  # forward passes in the phase (decode: one per new token)
    fit: Any = None  # wattlens.analyze.fit.ShapeFit: the counts as a polynomial in batch (and length/context)

    def to_json(self) -> dict[str, Any]:
        return {
            "fit": self.fit.to_json() if self.fit is not None else None,
            "phase": self.phase,
            "records": [r.to_json() for r in self.records],
            "ops_dispatched": self.ops_dispatched,
            "seconds": self.seconds,
            "notes": self.notes,
            "traced_contexts": self.traced_contexts,
            "exact": self.exact,
            "tokens": self.tokens,
            "state_bytes": self.state_bytes,
            "steps": self.steps,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PhaseTrace:
        from wattlens.analyze.fit import ShapeFit

        pt = cls(
            d["phase"],
            [Record.from_json(r) for r in d["records"]],
            int(d["ops_dispatched"]),
            float(d["seconds"]),
            list(d.get("notes", [])),
            [int(c) for c in d.get("traced_contexts", [])],
            bool(d.get("exact", True)),
            int(d.get("tokens", 0)),
            {k: float(v) for k, v in d.get("state_bytes", {}).items()},
            int(d.get("steps", 1)),
        )
        pt.fit = ShapeFit.from_json(d["fit"]) if d.get("fit") else None
        return pt


@dataclass(frozen=True)
class ModelInfo:
    """What the analysis needs to know of a model once it is traced (no torch objects)."""

    name: str
    description: str
    kind: str  # causal_lm | seq2seq | speech_seq2seq | encoder | vision | image_text | unet | module
    family: str
    params: int
    weights_bytes: float
    dtype: str  # fp32 | bf16 | fp16 (the traced dtype)
    layers: int | None = None  # decoder (or encoder) stack depth, when the config names it
    heads: int | None = None
    kv_heads: int | None = None
    hidden: int | None = None
    layer_attr: str | None = None  # the config attribute holding the depth (num_hidden_layers, n_layer, ...)
    guessed_input: str | None = None  # plain modules: the input shape guessed from the first layer

    @property
    def generative(self) -> bool:
        return self.kind in ("causal_lm", "seq2seq", "speech_seq2seq")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ModelInfo:
        allowed = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in allowed})


def flatten(traces: Iterable[PhaseTrace]) -> list[Record]:
    return [r for t in traces for r in t.records]


__all__ = [
    "CATEGORIES",
    "FIELDS",
    "HI",
    "IDX",
    "LO",
    "ModelInfo",
    "PhaseTrace",
    "Record",
    "copy_record",
    "flatten",
    "ops_of",
    "sum_field",
]
