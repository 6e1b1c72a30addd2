"""Bring per-rank parts together: energy summed, duration the longest, intervals summed bound by bound.

Pure functions on records (no process group here), so the same arithmetic serves ``wattlens.distributed.measure``
(parts gathered over torch.distributed) and ``wattlens results --job`` (parts read back from the store).

>>> from wattlens.distributed.topology import AllocationShare
>>> a = AllocationShare(2, 2, "whole node", 8.0, 8.0, "whole node", False)
>>> cpu = DomainEnergy("cpu", "", 10.0, 8.0, 12.0, "estimated", "cpu-time-model", (0,))
>>> r0 = RankShare(0, 0, "h", "0", 1, True, "single", "none", 2.0, 10.0, 8.0, 12.0, "estimated", "machine", (cpu,), a)
>>> r1 = RankShare(1, 1, "h", "0", 2, False, "single", "none", 3.0, 4.0, 3.0, 5.0, "estimated", "machine",
...                (DomainEnergy("cpu", "", 4.0, 3.0, 5.0, "estimated", "cpu-time-model", (1,)),), a)
>>> res = reduce_ranks("train", [r0, r1], world_size=2, launcher="torchrun", reduction="test")
>>> res.energy_j, res.low_j, res.high_j, res.duration_s, res.nodes[0].components[0].metered_by
(14.0, 11.0, 17.0, 3.0, (0, 1))
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from wattlens.distributed.records import DistributedResult, DomainEnergy, NodeShare, RankShare
from wattlens.distributed.topology import MeterPlan
from wattlens.meters.base import SOURCE_RANK, UNAVAILABLE


def weakest(sources: Iterable[str]) -> str:
    """The weakest kind of figure among ``sources`` (a sum is as strong as its weakest part)."""
    found = list(sources)
    return min(found, key=lambda s: SOURCE_RANK.get(s, 0)) if found else UNAVAILABLE


def rank_share(plan: MeterPlan, m: Any) -> RankShare:
    """This rank's part from its plan and its window (a :class:`~wattlens.tracking.Measurement`)."""
    comps = tuple(
        DomainEnergy(c.domain, c.device, c.energy_j, c.low_j, c.high_j, c.source, c.method, (plan.rank,), c.note)
        for c in m.components
    )
    available = [c for c in comps if c.energy_j is not None]
    notes = list(plan.notes)
    if not comps:
        notes.append(
            f"this rank metered nothing itself: its node's devices are metered by rank {plan.node_meter_rank} and it "
            "has no accelerator of its own"
        )
    notes.extend(n for n in m.notes if n not in notes)
    energy = sum(c.energy_j for c in available)  # type: ignore[misc]
    gpus = "all visible" if plan.gpus is None else (plan.gpus or "none")
    return RankShare(
        rank=plan.rank,
        local_rank=plan.local_rank,
        host=plan.host,
        node=plan.node_key,
        pid=_pid(),
        meters_node=plan.meters_node,
        election=plan.election,
        gpus=gpus,
        duration_s=float(m.duration_s),
        energy_j=float(energy),
        low_j=float(sum(c.energy_j if c.low_j is None else c.low_j for c in available)),  # type: ignore[misc]
        high_j=float(sum(c.energy_j if c.high_j is None else c.high_j for c in available)),  # type: ignore[misc]
        source=weakest(c.source for c in available) if available else UNAVAILABLE,
        attribution=plan.attribution,
        components=comps,
        allocation=plan.allocation,
        notes=tuple(notes),
    )


def _pid() -> int:
    import os

    return os.getpid()


def combine_components(parts: Iterable[DomainEnergy]) -> tuple[DomainEnergy, ...]:
    """One figure per (domain, device): available energies summed, bounds summed, the weakest source, and the
    ranks that metered it. A part that could not be read is named in the note, never added as 0."""
    groups: dict[tuple[str, str], list[DomainEnergy]] = {}
    for p in parts:
        groups.setdefault((p.domain, p.device), []).append(p)
    out = []
    for (domain, device), items in groups.items():
        ok = [i for i in items if i.energy_j is not None]
        by = tuple(sorted({r for i in items for r in i.metered_by}))
        failed = [i for i in items if i.energy_j is None]
        note = "; ".join(
            f"rank(s) {', '.join(map(str, i.metered_by))} could not read it ({i.note or i.method})" for i in failed
        )
        if not ok:
            out.append(DomainEnergy(domain, device, None, None, None, UNAVAILABLE, failed[0].method, by, note))
            continue
        methods = sorted({i.method for i in ok})
        out.append(
            DomainEnergy(
                domain,
                device,
                sum(i.energy_j for i in ok),  # type: ignore[misc]
                sum(i.energy_j if i.low_j is None else i.low_j for i in ok),  # type: ignore[misc]
                sum(i.energy_j if i.high_j is None else i.high_j for i in ok),  # type: ignore[misc]
                weakest(i.source for i in ok),
                " + ".join(methods),
                by,
                note,
            )
        )
    return tuple(out)


def node_shares(ranks: Sequence[RankShare]) -> tuple[NodeShare, ...]:
    """The ranks grouped by node, each node's components combined (node-level domains appear once per node)."""
    by_node: dict[str, list[RankShare]] = {}
    for r in sorted(ranks, key=lambda r: r.rank):
        by_node.setdefault(r.node, []).append(r)
    out = []
    for node, members in by_node.items():
        comps = combine_components(c for r in members for c in r.components)
        ok = [c for c in comps if c.energy_j is not None]
        meters = tuple(r.rank for r in members if r.meters_node)
        notes: list[str] = []
        if not meters:
            notes.append("no rank of this node metered its node-level domains (CPU package, DRAM): not included")
        elif len(meters) > 1 and members[0].attribution != "process":
            notes.append(
                f"ranks {list(meters)} all claim to meter this node: its node-level domains may be counted twice"
            )
        # the node's allocation as its meter saw it (the union of its ranks' CPUs)
        alloc = next((r.allocation for r in members if r.meters_node), members[0].allocation)
        out.append(
            NodeShare(
                node=node,
                hosts=tuple(sorted({r.host for r in members})),
                ranks=tuple(r.rank for r in members),
                node_meter_ranks=meters,
                duration_s=max(r.duration_s for r in members),
                energy_j=float(sum(c.energy_j for c in ok)),  # type: ignore[misc]
                low_j=float(sum(c.low_j for c in ok)),  # type: ignore[misc]
                high_j=float(sum(c.high_j for c in ok)),  # type: ignore[misc]
                source=weakest(c.source for c in ok) if ok else UNAVAILABLE,
                components=comps,
                allocation=alloc,
                notes=tuple(notes),
            )
        )
    return tuple(out)


def reduce_ranks(
    name: str,
    ranks: Sequence[RankShare],
    *,
    world_size: int,
    launcher: str,
    reduction: str,
    job_id: str | None = None,
    notes: Sequence[str] = (),
) -> DistributedResult:
    """The job's :class:`DistributedResult` from the rank parts at hand (missing ranks named, never 0)."""
    ranks = sorted(ranks, key=lambda r: r.rank)
    nodes = node_shares(ranks)
    seen = {r.rank for r in ranks}
    missing = tuple(i for i in range(world_size) if i not in seen)
    all_notes = list(notes)
    if missing:
        all_notes.append(
            f"{len(missing)} of {world_size} ranks are not in this total (not gathered): it covers ranks "
            f"{sorted(seen)} only"
        )
    duration = max((r.duration_s for r in ranks), default=0.0)
    energy = sum(n.energy_j for n in nodes)
    return DistributedResult(
        name=name,
        world_size=world_size,
        launcher=launcher,
        attribution=ranks[0].attribution if ranks else "machine",
        reduction=reduction,
        duration_s=duration,
        energy_j=energy,
        low_j=sum(n.low_j for n in nodes),
        high_j=sum(n.high_j for n in nodes),
        power_w=energy / duration if duration > 0 else None,
        source=weakest(n.source for n in nodes if n.source != UNAVAILABLE) if nodes else UNAVAILABLE,
        nodes=nodes,
        ranks=tuple(ranks),
        complete=not missing,
        missing_ranks=missing,
        job_id=job_id,
        notes=tuple(all_notes),
    )


__all__ = ["combine_components", "node_shares", "rank_share", "reduce_ranks", "weakest"]
