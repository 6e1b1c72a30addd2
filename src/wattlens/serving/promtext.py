"""The Prometheus text exposition format (version 0.0.4), written directly: no prometheus_client import.

The exporter and the middleware render a few dozen series per scrape; writing them here keeps ``wattlens
exporter`` light and its scrape path allocation-poor (the soak test scrapes 10^5 times). The output is checked
against prometheus_client's own parser and a real Prometheus server in the tests.

>>> print(render([Family("demo_joules", "counter", "Demo.", [("_total", {"domain": "cpu"}, 1.5)])]), end="")
# HELP demo_joules_total Demo.
# TYPE demo_joules_total counter
demo_joules_total{domain="cpu"} 1.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Family:
    """One metric family: its base name, type (counter, gauge, histogram), help text and samples.

    A sample is ``(suffix, labels, value)``; the suffix (``_total``, ``_bucket``, ``_sum``, ``_count`` or ``""``)
    is appended to the base name.
    """

    name: str
    kind: str
    help: str
    samples: Sequence[tuple[str, Mapping[str, str], float]]


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() or abs(value) >= 1e15 else f"{value:.1f}"


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(str(v))}"' for k, v in labels.items()) + "}"


def render(families: Iterable[Family]) -> str:
    """The exposition text of ``families``; a family with no samples is left out (no empty HELP/TYPE)."""
    out: list[str] = []
    for fam in families:
        if not fam.samples:
            continue
        # Counters are announced under their _total name, as prometheus_client writes them for 0.0.4.
        head = fam.name + "_total" if fam.kind == "counter" else fam.name
        out.append(f"# HELP {head} {_escape_help(fam.help)}")
        out.append(f"# TYPE {head} {fam.kind}")
        for suffix, labels, value in fam.samples:
            out.append(f"{fam.name}{suffix}{_labels(labels)} {format_value(value)}")
    return "\n".join(out) + "\n" if out else ""
