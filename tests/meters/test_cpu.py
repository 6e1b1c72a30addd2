"""CPU model normalisation (docs/DATA.md §3 rules) and table lookups."""

from __future__ import annotations

import csv

import pytest

from wattlens.meters import cpu


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "Intel Xeon Gold 6338"),
        ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654"),
        ("AMD Ryzen 7 PRO 4750U with Radeon Graphics", "AMD Ryzen 7 PRO 4750U"),
        ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C"),
        ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K"),
        ("Intel(R) Core(TM) i7 14700K", "Intel Core i7-14700K"),  # rule 8: ARK's 14th-gen spelling
        ("AMD Ryzen 5 5600G w/ Radeon Graphics", "AMD Ryzen 5 5600G"),
        ("AMD Ryzen 9 7950X 16-Cores", "AMD Ryzen 9 7950X"),
        ("Intel® Core™ i5\u200b-8250U CPU", "Intel Core i5-8250U"),
        ("AMD EPYC", "AMD EPYC"),
    ],
)
def test_normalise_model_name(raw: str, normalised: str) -> None:
    assert cpu.normalise_model_name(raw) == normalised


def test_exact_lookup_is_case_insensitive() -> None:
    rec = cpu.lookup_cpu("amd epyc 9654")
    assert rec is not None and rec.model == "AMD EPYC 9654"
    assert (rec.tdp_w, rec.cores, rec.threads, rec.match) == (360.0, 96, 192, cpu.MATCH_EXACT)
    rec = cpu.lookup_cpu("Intel Xeon Gold 6338")
    assert rec is not None and (rec.tdp_w, rec.cores, rec.threads) == (205.0, 32, None)


def test_exact_lookup_matches_the_model_column_only() -> None:
    # "tdp" appears in the power_kind column of every row: it must not be taken for a model.
    assert cpu.lookup_cpu("tdp", allow_prefix=False) is None


def test_prefix_fallback_only_when_unique_and_labelled() -> None:
    rec = cpu.lookup_cpu("Intel Xeon Gold 6338 Engineering Sample")  # extends exactly one row
    assert rec is not None and rec.model == "Intel Xeon Gold 6338" and rec.match == cpu.MATCH_PREFIX
    # A bare family name matches 148 rows: never silently pick one (Carbontracker's "EPYC 7232P" mistake).
    assert cpu.lookup_cpu("AMD EPYC") is None
    assert cpu.prefix_candidates("AMD EPYC") == 148
    assert cpu.lookup_cpu("") is None


def test_lookup_agrees_with_a_full_parse_of_the_table() -> None:
    with open(cpu.CPU_TABLE, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4693
    for row in rows[::97]:  # a spread of rows, every vendor
        rec = cpu.lookup_cpu(row["model"].upper(), allow_prefix=False)
        assert rec is not None and rec.model == row["model"] and rec.tdp_w == float(row["tdp_w"])


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("Intel Xeon Platinum 8375C", "Ice Lake"),
        ("Intel Xeon Platinum 8259CL", "Cascade Lake"),
        ("Intel Xeon Gold 6130", "Skylake"),
        ("Intel Xeon Platinum 8488C", "Sapphire Rapids"),
        ("Intel Xeon E5-2686 v4", "Broadwell"),
        ("Intel Xeon E5-2670", "Sandy Bridge"),
        ("Intel Xeon 6980P", "Granite Rapids"),
        ("AMD EPYC 7B13", "EPYC 3rd Gen"),
        ("AMD EPYC 7R32", "EPYC 2nd Gen"),
        ("AMD EPYC 9654", "EPYC 4th Gen"),
        ("AMD EPYC 9965", "EPYC 5th Gen"),
        ("AMD EPYC", None),
        ("Intel Core i9-13900K", None),
    ],
)
def test_microarchitecture(model: str, family: str | None) -> None:
    assert cpu.microarchitecture(model) == family


def test_cloud_rows_and_vendor_family() -> None:
    rows = cpu.cloud_vcpu_rows()
    assert len(rows) == 37 and all(0 < r.min_w_per_vcpu < r.max_w_per_vcpu < 20 for r in rows)
    epyc, label = cpu.rows_for_vendor_family("AMD EPYC")
    assert epyc and all(r.microarchitecture.startswith("EPYC") for r in epyc) and "EPYC" in label
    every, _ = cpu.rows_for_vendor_family("Mystery CPU")
    assert len(every) == 33  # all rows but the 4 Graviton copies of EPYC 2nd Gen


def test_detect_cpu_is_cached_and_consistent() -> None:
    a, b = cpu.detect_cpu(), cpu.detect_cpu()
    assert a is b and a.logical_cpus >= 1
    assert a.model == (cpu.normalise_model_name(a.raw_model) if a.raw_model else "")


def test_decorated_table_names_normalise_back_to_the_row() -> None:
    """The kernel's spellings (marks, clock, generation, graphics, core-count suffixes) all map to the row."""
    with open(cpu.CPU_TABLE, newline="", encoding="utf-8") as f:
        models = [r["model"] for r in csv.DictReader(f)]
    decorations = [
        lambda m: m.replace("Intel ", "Intel(R) ").replace("Core ", "Core(TM) ").replace("Xeon ", "Xeon(R) "),
        lambda m: m + " CPU @ 2.40GHz",
        lambda m: "12th Gen " + m,
        lambda m: m + " with Radeon Graphics",
        lambda m: m + " w/ Radeon 780M Graphics",
        lambda m: m + " 16-Core Processor",
        lambda m: "  " + m.replace(" ", "  ") + "\u200b ",
    ]
    for m in models:
        assert cpu.normalise_model_name(m) == m
        for decorate in decorations:
            assert cpu.normalise_model_name(decorate(m)) == m, decorate(m)
