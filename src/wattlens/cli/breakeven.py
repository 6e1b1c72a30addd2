"""``wattlens breakeven``: queries until inference energy equals training energy, and the yearly projection.

The training energy comes from a published reference (BLOOMz, as in Power Hungry Processing), a run measured by
the Trainer/Lightning callbacks (``--training-run``) or ``wattlens analyze --phase train`` (``--training-estimate``,
labelled estimated); the per-query energy from a bench run, a given figure, or the reference.

Example::

    wattlens breakeven --training-kwh 51686 --finetune-kwh 7571 --kwh-per-query 1e-4   # ~592.6 M queries
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wattlens.cli import options as opt
from wattlens.cli.options import UsageError
from wattlens.units import kwh_to_j

if TYPE_CHECKING:
    from wattlens.bench.breakeven import BloomzReference, BreakevenReport
    from wattlens.bench.training import MeasuredTraining

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: Any, add_db: Callable[[Any], None], add_carbon: Callable[[Any], None]) -> None:
    """The ``breakeven`` sub-command; ``add_db``/``add_carbon`` are ``wattlens bench``'s shared options."""
    p = subparsers.add_parser(
        "breakeven",
        help="queries until inference energy equals training energy; yearly projection",
        description="PHP's example: --training-kwh 51686 --finetune-kwh 7571 --kwh-per-query 1e-4 -> ~592.6 M queries.",
    )
    p.add_argument(
        "--training-kwh",
        type=opt.Float(0),
        help="training energy, kWh (default: the reference figure for a BLOOMz --model)",
    )
    p.add_argument(
        "--finetune-kwh", type=opt.Float(0), help="fine-tuning energy, kWh (default 0, or the reference figure)"
    )
    p.add_argument(
        "--training-run",
        metavar="RUN_ID",
        help="take the training energy from a run recorded by wattlens' Trainer/Lightning EnergyCallback",
    )
    p.add_argument(
        "--training-estimate",
        metavar="RUN_JSON",
        type=opt.InputPath("JSON file"),
        help="take the training energy from `wattlens analyze MODEL --phase train --tokens ... --json` "
        "(labelled estimated, with its interval) instead of a published figure",
    )
    p.add_argument("--run", metavar="RUN_ID", help="take the per-query energy from this bench run")
    p.add_argument("--model", help="model in the run (or a BLOOMz reference model: bloomz-560m/1b7/3b/7b1)")
    p.add_argument("--j-per-query", type=opt.Float(0), help="per-query energy in J (when the model is not in a run)")
    p.add_argument("--kwh-per-query", type=opt.Float(0), help="per-query energy in kWh")
    p.add_argument(
        "--queries-per-day", type=opt.Float(0), help="request rate for the yearly projection and days to parity"
    )
    p.add_argument("--queries-per-second", type=opt.Float(0), help="the same rate per second (x 86,400 per day)")
    p.add_argument("--json", action="store_true")
    add_db(p)
    add_carbon(p)
    p.set_defaults(func=cmd_breakeven)


@dataclass(frozen=True)
class _PerQuery:
    """The per-query energy a break-even is computed from, with its interval and where it came from."""

    j: float
    low_j: float | None
    high_j: float | None
    source: str


def _per_query_from_run(args: argparse.Namespace) -> _PerQuery | None:
    from wattlens.report.query import best_row
    from wattlens.store import open_store

    store = open_store(args.db, read_only=True)
    try:
        if args.run and store.get_run(args.run) is None:
            from wattlens.report.query import require_run

            require_run(store, args.run, 5, where=args.db or "the store")  # raises, naming the latest runs
        best = best_row(store, args.run, args.model)
    finally:
        store.close()
    if best is None or best.j_per_query is None:
        return None
    cfg = best.config
    src = (
        f"run {best.run_id}, {best.task}, {best.model} b{cfg.batch} {cfg.precision} "
        f"({best.source}, {best.energy_basis})"
    )
    return _PerQuery(best.j_per_query, best.j_per_query_low, best.j_per_query_high, src)


def cmd_breakeven(args: argparse.Namespace) -> int:
    from wattlens.bench.breakeven import BreakevenError, BreakevenReport, PaperFigure, breakeven, reference_model
    from wattlens.units import j_to_kwh

    ref = reference_model(args.model) if args.model else None
    measured = _measured_training(args) if args.training_run else None
    if isinstance(measured, int):
        return measured
    if measured is not None:
        args.training_kwh = measured.kwh
    training = args.training_kwh if args.training_kwh is not None else (ref.training_kwh if ref else None)
    t_src, t_lo, t_hi = "given" if args.training_kwh is not None else "published reference", None, None
    if measured is not None:
        t_src = "measured (training run)"
    if measured is not None and args.training_estimate:
        print("wattlens breakeven: give --training-run or --training-estimate, not both", file=sys.stderr)
        return EXIT_USAGE
    notes: list[str] = []
    if args.training_estimate:
        est = _training_estimate(args.training_estimate)
        if est is None:
            print(
                f"wattlens breakeven: {args.training_estimate} is not the JSON of a training run "
                "(wattlens analyze MODEL --phase train --tokens N --gpus G --json)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        training, t_lo, t_hi, t_src = est
        notes.append(f"training energy {training:,.0f} kWh [{t_lo:,.0f}-{t_hi:,.0f}]: {t_src}")
    finetune = args.finetune_kwh if args.finetune_kwh is not None else (ref.finetune_kwh if ref else 0.0)
    if args.training_kwh is None and ref and not args.training_estimate:
        notes.append(f"training {ref.training_kwh:g} kWh from the reference ({ref.source})")
    if args.finetune_kwh is None and ref:
        notes.append(f"fine-tuning {ref.finetune_kwh:g} kWh from the reference")
    if training is None:
        print("wattlens breakeven: give --training-kwh (or a BLOOMz reference --model)", file=sys.stderr)
        return EXIT_USAGE
    per_q = _resolve_per_query(args, ref, notes)
    if per_q is None:
        print(
            "wattlens breakeven: no per-query energy: give --run RUN_ID --model M (an ok cell), --j-per-query, "
            "--kwh-per-query, or a BLOOMz reference --model",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        be = breakeven(
            training,
            j_to_kwh(per_q.j),
            finetune,
            kwh_per_query_low=None if per_q.low_j is None else j_to_kwh(per_q.low_j),
            kwh_per_query_high=None if per_q.high_j is None else j_to_kwh(per_q.high_j),
            per_query_source=per_q.source,
            training_source=t_src,
            training_kwh_low=t_lo,
            training_kwh_high=t_hi,
        )
    except BreakevenError as exc:
        print(f"wattlens breakeven: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.queries_per_second is not None and args.queries_per_day is None:
        args.queries_per_day = args.queries_per_second * 86400.0
    training_run = None
    if measured is not None:  # the measured training's interval widens the range of queries
        training_run = measured.against(be)
        notes.insert(0, _measured_training_note(measured))
    report = BreakevenReport(
        breakeven=be,
        notes=tuple(notes),
        days_to_breakeven=be.days_at(args.queries_per_day) if args.queries_per_day else None,
        yearly=_yearly(args, per_q) if args.queries_per_day else None,
        paper=PaperFigure.of(ref) if ref else None,
        training_run=training_run,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(_breakeven_text(report))
    return EXIT_OK


def _measured_training(args: argparse.Namespace) -> MeasuredTraining | int:
    """The MeasuredTraining of --training-run, or the exit code after a one-line error."""
    from wattlens.bench.training import TrainingRunError, measured_training
    from wattlens.store import StoreError, open_store

    if args.training_kwh is not None:
        print("wattlens breakeven: give --training-kwh or --training-run, not both", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = open_store(args.db, read_only=True)
        try:
            return measured_training(store, args.training_run)
        finally:
            store.close()
    except (TrainingRunError, StoreError) as exc:
        print(f"wattlens breakeven: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _measured_training_note(m: MeasuredTraining) -> str:
    what = ", ".join(f"{k} {v}" for k, v in (("model", m.model), ("steps", m.steps), ("tokens", m.tokens_seen)) if v)
    note = (
        f"training {m.kwh:.4g} kWh [{m.kwh_low:.4g}, {m.kwh_high:.4g}] measured by run {m.run_id} ({m.source}, "
        f"facility = node x PUE, {m.nodes_recorded} node(s){'; ' + what if what else ''})"
    )
    return "; ".join([note, *m.notes])


def _training_estimate(path: str) -> tuple[float, float, float, str] | None:
    """(mid, low, high kWh, label) from a saved `wattlens analyze --phase train --tokens ... --json`."""
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        kwh = d["energy_kwh"]
        label = (
            f"estimated: wattlens analyze training run of {d['model']} on {d['gpus']} x {d['hardware']} "
            f"({d['energy_boundary']} boundary, {d['tokens']:.3g} tokens)"
        )
        return float(kwh["mid"]), float(kwh["low"]), float(kwh["high"]), label
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _resolve_per_query(args: argparse.Namespace, ref: BloomzReference | None, notes: list[str]) -> _PerQuery | None:
    from wattlens.units import kwh_to_j

    if args.j_per_query is not None:
        return _PerQuery(args.j_per_query, None, None, "given (--j-per-query)")
    if args.kwh_per_query is not None:
        return _PerQuery(kwh_to_j(args.kwh_per_query), None, None, "given (--kwh-per-query)")
    if args.run and not args.model:
        raise UsageError(f"--run {args.run} needs --model M: the model whose per-query energy to take")
    if args.run and args.model:
        got = _per_query_from_run(args)
        if got is not None:
            return got
        notes.append(f"model {args.model!r} has no ok cell in run {args.run}")
    if ref:
        notes.append("per-query energy: PHP's figure for this model (8xA100 node, gross)")
        return _PerQuery(kwh_to_j(ref.inference_kwh_per_query_paper), None, None, f"PHP paper figure ({ref.model})")
    return None


def _yearly(args: argparse.Namespace, per_q: _PerQuery) -> Mapping[str, object]:
    from wattlens.carbon import project_yearly, resolve_location

    loc = resolve_location(country=args.country, region=args.region, intensity_g_per_kwh=args.intensity)
    return project_yearly(
        per_q.j,
        args.queries_per_day,
        loc,
        pue=args.pue,
        price_per_kwh=args.price_per_kwh,
        currency=args.currency,
        j_per_query_low=per_q.low_j,
        j_per_query_high=per_q.high_j,
    )


def _breakeven_text(report: BreakevenReport) -> str:
    be = report.breakeven
    lines = [
        f"training + fine-tuning: {be.total_training_kwh:,.0f} kWh ({be.training_kwh:,.0f} + {be.finetune_kwh:,.0f})",
        f"inference: {be.kwh_per_query:.3e} kWh/query ({kwh_to_j(be.kwh_per_query):.4g} J) — {be.per_query_source}",
        f"break-even: {be.queries / 1e6:,.1f} million queries",
    ]
    if be.queries_low and be.queries_high:
        lines[-1] += f" [{be.queries_low / 1e6:,.1f} – {be.queries_high / 1e6:,.1f} million]"
    if report.training_run is not None:  # a measured training can be small: exact figures, both intervals
        tr = report.training_run
        lines.append(
            f"break-even: {be.queries:.4g} queries [{tr.queries_low:.4g} – {tr.queries_high:.4g}] with the training "
            f"and per-query intervals (training {be.training_kwh:.4g} kWh)"
        )
    if report.paper is not None:
        lines.append(
            f"PHP paper: {report.paper.breakeven_queries / 1e6:,.1f} million queries "
            f"at {report.paper.kwh_per_query:.1e} kWh/query"
        )
    y = report.yearly
    if report.days_to_breakeven is not None and y is not None:
        lines.append(f"at {y['queries_per_day']:,.0f} queries/day: parity after {report.days_to_breakeven:,.0f} days")
        cost = y.get("cost_per_year")
        amount = cost.get("amount") if isinstance(cost, Mapping) else None
        currency = cost.get("currency") if isinstance(cost, Mapping) else None
        lines.append(
            f"one year: {y['kwh_per_year']:,.1f} kWh (facility, PUE {y['pue']:g}), "
            f"{y['tco2e_per_year']:.3g} tCO2e at {y['carbon_intensity_g_per_kwh']:g} g/kWh, cost "
            + ("not set" if amount is None else f"{amount:,.2f} {currency or ''}")
        )
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)
