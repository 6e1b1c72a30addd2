"""The grid: applicability decides what is tried, and every skip says why."""

from __future__ import annotations

from wattlens.optimize import space as SP


def _ctx(**kw) -> SP.Context:
    base = dict(
        task="sentence-similarity", mode="online", cpu_flags=frozenset({"avx512_bf16"}), n_cpus=2, default_threads=2
    )
    base.update(kw)
    return SP.Context(**base)


def test_online_grid() -> None:
    sp = SP.build_space(_ctx(), ["m"])
    cfgs = sp.configs()
    assert {c["batch"] for c in cfgs} == {1, 2, 4, 8}
    assert not any(c["sort"] for c in cfgs)  # online requests keep their order
    assert all(SP.valid_combination(c) for c in cfgs)
    assert not any(c["wait"] == "passive" and c["engine"] != "torch" for c in cfgs)
    assert not any(c["wait"] != "default" and c["threads"] == 1 for c in cfgs)
    skipped = {s.transform: s.why for s in sp.skipped}
    assert "fp16" in skipped and "length-sort" in skipped and "gpu-power-limit" in skipped
    assert {"torch", "onnxruntime"} == {v["engine"] for v in sp.variants}


def test_offline_grid_sorts_and_batches() -> None:
    cfgs = SP.build_space(_ctx(mode="offline"), ["m"]).configs()
    assert {c["sort"] for c in cfgs} == {False, True}
    assert max(c["batch"] for c in cfgs) >= 32


def test_bf16_needs_native_support() -> None:
    sp = SP.build_space(_ctx(cpu_flags=frozenset()), ["m"])
    assert not any(v["precision"] == "bf16" for v in sp.variants)
    assert any(s.transform == "bf16" and "avx512_bf16" in (s.why or "") for s in sp.skipped)


def test_generation_has_no_onnx_and_candidates_multiply() -> None:
    sp = SP.build_space(_ctx(task="text-generation", prunable=False), ["a", "b"])
    assert {v["engine"] for v in sp.variants} == {"torch"}
    assert {v["model"] for v in sp.variants} == {"a", "b"}
    assert any(s.transform == "structured-prune" for s in sp.skipped)


def test_hardware_knobs_only_with_a_gpu() -> None:
    no_gpu = SP.build_space(_ctx(hardware_knobs=True, gpu_count=0), ["m"])
    assert any("no NVIDIA GPU" in (s.why or "") for s in no_gpu.skipped)
    gpu = SP.build_space(_ctx(hardware_knobs=True, gpu_count=1, device="cuda"), ["m"], threads=[1], batches=[1])
    assert {c["power_limit"] for c in gpu.configs()} == {None, 0.8, 0.6}
    assert {c["gpu_clock"] for c in gpu.configs()} == {None, 0.7}


def test_describe_and_lossy() -> None:
    c = {
        "model": "m",
        "engine": "onnxruntime",
        "precision": "int8",
        "quant": "per-channel",
        "prune": "none",
        "threads": 1,
        "wait": "default",
        "batch": 4,
        "sort": True,
    }
    assert SP.describe(c) == "m onnxruntime int8/per-channel t1 b4 sorted"
    assert SP.lossy_knobs(c) == ["precision"]
    assert SP.variant_of(c)["quant"] == "per-channel" and "batch" not in SP.variant_of(c)
