"""Terminal tables (rich when installed, plain text otherwise) and figures (matplotlib, lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wattlens.analyze import roles as R


def si(x: float | None, unit: str = "") -> str:
    if x is None:
        return "?"
    if x == 0:
        return f"0 {unit}".rstrip()
    ax = abs(x)
    for k, p in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= k:
            return f"{x / k:.3g} {p}{unit}"
    for k, p in ((1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if ax >= k or k == 1e-9:
            if ax >= 1:
                break
            return f"{x / k:.3g} {p}{unit}"
    return f"{x:.3g} {unit}".rstrip()


def _rng(d: dict[str, float], unit: str) -> str:
    return f"{si(d['mid'], unit)} [{si(d['low'])}–{si(d['high'])}]"


def summary_lines(d: dict[str, Any]) -> list[str]:
    lines = [
        f"wattlens analyze: {d['model']} ({d['description']}, {d['params'] / 1e6:.1f} M params, {d['dtype']})",
        f"hardware {d['hardware']}"
        + (" (calibrated)" if d["hardware_profile"]["calibrated"] else "")
        + f" | phase {d['phase']} | batch {d['batch']}"
        + (
            f" | seq {d['seq']}"
            if d["phase"] in ("forward", "prefill", "train")
            else f" | prompt {d['prompt']} + {d['new_tokens']} new tokens"
        ),
        f"FLOPs {si(d['flops'])} | DRAM bytes {si(d['bytes']['low'], 'B')} (fused) – {si(d['bytes']['high'], 'B')}"
        f" (eager) | time {_rng(d['time_s'], 's')} | energy {_rng(d['energy_j'], 'J')}",
    ]
    if "energy_j_per_output_token" in d:
        lines.append(f"energy per output token {_rng(d['energy_j_per_output_token'], 'J')}")
    p = d["energy_parts_j_mid"]
    tot = sum(p.values()) or 1.0
    lines.append("energy (mid) split: " + ", ".join(f"{k} {v / tot:.0%}" for k, v in p.items()))
    h = d.get("host")
    if h:
        lines.append(
            f"host ({h['runtime']}, host CPU band '{h['host']}'): device busy {_rng(h['device_busy_s'], 's')}, "
            f"host issuing ops {_rng(h['host_issue_s'], 's')}, framework {_rng(h['framework_s'], 's')}; "
            f"the device waits {h['device_idle_fraction']:.0%} of the time (paced by the {h['bound']})"
        )
    b = d.get("boundary")
    if b:
        parts = ", ".join(f"{x['part']} {si(x['energy_j']['mid'], 'J')}" for x in b["parts"])
        lines.append(
            f"{b['boundary']} boundary"
            + (f" ({b['node']})" if b.get("node") else "")
            + f": {_rng(b['energy_j'], 'J')}"
            + (f" x PUE {b['pue']['low']:g}-{b['pue']['high']:g}" if b.get("pue") else "")
            + f" -- {parts}"
        )
        if b.get("net_energy_j"):
            lines.append(
                f"  net of the boundary's idle draw ({_rng(b['idle_w'], 'W')}): {_rng(b['net_energy_j'], 'J')}"
            )
    mem = d.get("memory")
    if mem:
        fit = {True: "fits", False: "DOES NOT FIT", None: "device memory n/a"}[mem["fits"]]
        extra = ", ".join(
            f"{k[:-6]} {si(v, 'B')}"
            for k, v in mem.items()
            if k.endswith("_bytes")
            and k not in ("weights_bytes", "resident_bytes", "device_memory_bytes", "resident_bytes_per_device")
        )
        if mem.get("tensor_parallel", 1) > 1:
            extra += (
                f"{', ' if extra else ''}{si(mem['resident_bytes_per_device'], 'B')} per device "
                f"(tensor parallel x{mem['tensor_parallel']})"
            )
        lines.append(
            f"memory: weights {si(mem['weights_bytes'], 'B')}"
            + (f", {extra}" if extra else "")
            + f" -> {si(mem['resident_bytes'], 'B')} resident in all ({fit}"
            + (f" in {si(mem['device_memory_bytes'], 'B')})" if mem["device_memory_bytes"] else ")")
        )
    rl = d["roofline"]
    lines.append(
        f"ridge points ({rl['dtype']}): time balance {rl['time_balance_flop_per_byte']:.3g} FLOP/B, "
        f"energy balance {rl['energy_balance_flop_per_byte']:.3g} FLOP/B"
    )
    return lines


ROLE_COLS = (
    "role",
    "FLOPs",
    "bytes (fused–eager)",
    "FLOP/B",
    "bound",
    "time mid",
    "energy mid [low–high]",
    "share",
    "FLOP/J (% of energy roofline)",
)


def role_rows(rows: list[dict[str, Any]], key: str = "role") -> list[list[str]]:
    total = sum(r["energy_j"]["mid"] for r in rows) or 1.0
    out = []
    for r in rows:
        out.append(
            [
                str(r[key]),
                si(r["flops"]),
                f"{si(r['bytes']['low'], 'B')} – {si(r['bytes']['high'], 'B')}",
                f"{r['intensity']:.3g}",
                r["bound"],
                si(r["time_s"]["mid"], "s"),
                f"{si(r['energy_j']['mid'], 'J')} [{si(r['energy_j']['low'])}–{si(r['energy_j']['high'])}]",
                f"{r['energy_j']['mid'] / total:.0%}",
                (f"{si(r['flop_per_j'])} ({r['roofline_fraction']:.0%})" if r.get("roofline_fraction") else "-"),
            ]
        )
    return out


def lever_rows(levers: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            lv["lever"],
            lv["role"],
            f"{lv['saving_fraction']:.0%}",
            si(lv["energy_j_after"], "J"),
            f"quality: {lv['price']['quality']}; latency: {lv['price']['latency']}; memory: {lv['price']['memory']}",
        ]
        for lv in levers
    ]


def render(d: dict[str, Any], by_layer: bool = False, max_layers: int = 20) -> str:
    """The report as text: rich tables when rich is importable, aligned plain text otherwise."""
    try:
        return _render_rich(d, by_layer, max_layers)
    except ImportError:
        return _render_plain(d, by_layer, max_layers)


def _render_plain(d: dict[str, Any], by_layer: bool, max_layers: int) -> str:
    out = summary_lines(d)
    out += ["", "by role:", *_plain_table(list(ROLE_COLS), role_rows(d["by_role"]))]
    if by_layer and d.get("by_layer"):
        out += ["", f"by layer (top {max_layers} by energy):"]
        out += _plain_table(["layer", *ROLE_COLS[1:]], role_rows(d["by_layer"][:max_layers], key="layer"))
    if d["unsupported_ops"]:
        out += [
            "",
            "ops without a FLOP formula (FLOPs unknown, bytes counted): "
            + ", ".join(f"{u['op']} x{u['calls']}" for u in d["unsupported_ops"]),
        ]
    if d["levers"]:
        out += ["", "levers (re-analysed what-ifs, ranked by energy saved):"]
        out += _plain_table(["lever", "role", "saves", "energy after", "price"], lever_rows(d["levers"]))
    return "\n".join(out)


def _plain_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    widths = [min(w, 70) for w in widths]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [
        fmt.format(*(str(x)[:70] for x in row)) for row in rows
    ]


def _render_rich(d: dict[str, Any], by_layer: bool, max_layers: int) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=160, file=open(_devnull(), "w"))
    for line in summary_lines(d):
        console.print(line, highlight=False)
    t = Table(title="energy by computational role")
    for c in ROLE_COLS:
        t.add_column(c, justify="left" if c in ("role", "bound") else "right")
    for row in role_rows(d["by_role"]):
        t.add_row(*row)
    console.print(t)
    if by_layer and d.get("by_layer"):
        t = Table(title=f"by layer (top {max_layers} by energy)")
        for c in ["layer", *ROLE_COLS[1:]]:
            t.add_column(c)
        for row in role_rows(d["by_layer"][:max_layers], key="layer"):
            t.add_row(*row)
        console.print(t)
    if d["unsupported_ops"]:
        console.print(
            "ops without a FLOP formula (FLOPs unknown, bytes counted): "
            + ", ".join(f"{u['op']} x{u['calls']}" for u in d["unsupported_ops"]),
            highlight=False,
        )
    if d["levers"]:
        t = Table(title="levers: re-analysed what-ifs, ranked by energy saved")
        for c in ("lever", "role", "saves", "energy after", "price"):
            t.add_column(c, overflow="fold")
        for row in lever_rows(d["levers"]):
            t.add_row(*row)
        console.print(t)
    return console.export_text()


def _devnull() -> str:
    import os

    return os.devnull


def hardware_table(profiles: list[Any]) -> str:
    rows = []
    for p in profiles:
        bf16 = p.peak_tflops.get("bf16") or p.peak_tflops.get("fp16") or p.peak_tflops.get("fp32")
        eps = next(iter(p.pj_per_flop.values()), None)
        dram = p.pj_per_byte.get("dram")
        bw = f"{p.mem_bw_gbs.low:.4g}" if p.mem_bw_gbs else ""
        rows.append(
            [
                p.name,
                p.kind,
                f"{bf16.low:.4g}" if bf16 else "",
                bw,
                p.mem_type,
                f"{dram.low:.0f}–{dram.high:.0f}" if dram else "",
                f"{eps.low:.3g}–{eps.high:.3g}" if eps else "unmodelled",
                f"{p.static_w.low:.3g}–{p.static_w.high:.3g}" if p.static_w else "unmodelled",
                f"{p.launch_us.low:.0f}–{p.launch_us.high:.0f}" if p.launch_us else "",
                p.provenance[:40],
            ]
        )
    header = [
        "name",
        "kind",
        "TFLOP/s (bf16|fp16|fp32)",
        "GB/s",
        "memory",
        "pJ/B DRAM",
        "pJ/FLOP",
        "static W",
        "launch µs",
        "provenance",
    ]
    return "\n".join(_plain_table(header, rows))


# ------------------------------------------------------------------------------------------ figures
def plot(d: dict[str, Any], out_dir: str | Path, profile: Any) -> list[Path]:
    """Stacked energy by role (per phase) and the energy roofline with each role placed on it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wattlens.analyze.model import energy_roofline

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    # 1. stacked energy by role, one bar per corner
    fig, ax = plt.subplots(figsize=(7, 4.5))
    corners = ["low", "mid", "high"]
    bottom = [0.0, 0.0, 0.0]
    for r in d["by_role"]:
        vals = [r["energy_j"][c] for c in corners]
        ax.bar(corners, vals, bottom=bottom, label=r["role"])
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    ax.set_ylabel("energy (J)")
    ax.set_title(f"{d['model']} on {d['hardware']}, {d['phase']}: energy by role")
    ax.legend(fontsize=7)
    f1 = out / "energy_by_role.png"
    fig.tight_layout()
    fig.savefig(f1, dpi=120)
    plt.close(fig)
    files.append(f1)
    # 2. energy roofline (Choi et al.) with roles
    import math

    dtype = d["roofline"]["dtype"]
    xs = [10 ** (k / 10) for k in range(-20, 41)]
    curve = energy_roofline(profile, dtype, xs)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(xs, [c["flop_per_j"] for c in curve], "k-", label="energy roofline (FLOP/J, mid figures)")
    ax2 = ax.twinx()
    ax2.loglog(xs, [c["flop_per_s"] for c in curve], "k:", label="time roofline (FLOP/s)")
    ax2.set_ylabel("attainable FLOP/s")
    for r in d["by_role"]:
        if r["flops"] > 0 and r["energy_j"]["mid"] > 0 and r["intensity"] > 0:
            ax.scatter([r["intensity"]], [r["flops"] / r["energy_j"]["mid"]], s=40, zorder=3)
            ax.annotate(r["role"], (r["intensity"], r["flops"] / r["energy_j"]["mid"]), fontsize=7)
    for key, style in (("time_balance_flop_per_byte", "--"), ("energy_balance_flop_per_byte", "-.")):
        v = d["roofline"][key]
        if v and math.isfinite(v):
            ax.axvline(v, ls=style, color="grey", lw=0.8)
    ax.set_xlabel("arithmetic intensity (FLOP/byte of DRAM traffic)")
    ax.set_ylabel("FLOP per joule")
    ax.set_title(f"energy roofline: {d['hardware']} ({dtype}); roles of {d['model']}")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower right", fontsize=7)
    f2 = out / "energy_roofline.png"
    fig.tight_layout()
    fig.savefig(f2, dpi=120)
    plt.close(fig)
    files.append(f2)
    return files


__all__ = ["R", "hardware_table", "plot", "render", "si"]
