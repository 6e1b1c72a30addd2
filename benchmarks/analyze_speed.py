"""Speed and memory of ``wattlens analyze`` on a 70B-shaped model: prefill + 128 decode steps.

    .venv/bin/python benchmarks/analyze_speed.py [--runs 3] [--model llama-2-70b] [--prompt 512] [--new-tokens 128]

Each run is a fresh subprocess (peak RSS is per process). Reported, median of ``--runs``:

* analysis time: model build on meta + capture (prefill traced, decode steps traced at 3 representative
  contexts and integrated exactly) + roofline/energy model -- everything after ``import``; the target of
  issue 4 is <= 5 s and <= 500 MB on the 2-core dev machines;
* import time (torch + transformers + the Llama model module, which transformers loads lazily on first use +
  wattlens.analyze) and whole-process wall time, for completeness;
* the anchor: torch's ``FlopCounterMode`` plain FLOP count over the same traced passes (prefill + 3 decode
  steps, same model build), and extrapolated to what counting all 128 decode steps op by op would take.
Levers are not included (``--no-levers`` equivalent); they re-trace modified models and are timed apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, resource, statistics, sys, time
t0 = time.perf_counter()
import torch, transformers  # noqa: F401
from transformers import LlamaForCausalLM  # noqa: F401 -- transformers loads model modules lazily: count it here
from wattlens.analyze.analysis import analyze
from wattlens.analyze import presets
from wattlens.analyze.phases import cache_tensors  # noqa: F401
t1 = time.perf_counter()
mode, model, prompt, new = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
out = {"import_s": t1 - t0}
if mode == "wattlens":
    t = time.perf_counter()
    a = analyze(model, "h200", phase="generate", batch=1, prompt=prompt, new_tokens=new, levers=False)
    d = a.to_dict()
    out.update(analysis_s=time.perf_counter() - t, capture_s=a.capture_s, model_s=a.model_s,
               ops=d["capture"]["ops_dispatched"], contexts=d["capture"]["traced_decode_contexts"],
               exact=d["capture"]["decode_exact"], flops=d["flops"], energy_j=d["energy_j"])
else:
    from torch.utils.flop_counter import FlopCounterMode
    t = time.perf_counter()
    w = presets.resolve(model, "bf16")
    ids = torch.zeros(1, prompt, dtype=torch.long, device="meta")
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc:
        o = w.model(input_ids=ids, use_cache=True)
    t_pre = time.perf_counter() - t
    cache = o.past_key_values
    steps = []
    for _ in range(3):
        ts = time.perf_counter()
        with torch.no_grad(), fc:
            o = w.model(input_ids=ids[:, :1], past_key_values=cache, use_cache=True)
        cache = o.past_key_values
        steps.append(time.perf_counter() - ts)
    out.update(analysis_s=time.perf_counter() - t, prefill_s=t_pre, step_s=statistics.median(steps),
               flops=fc.get_total_flops())
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def run(mode: str, model: str, prompt: int, new: int) -> dict:
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", CHILD, mode, model, str(prompt), str(new)], capture_output=True, text=True, check=True
    )
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    d = json.loads(line[len("RESULT ") :])
    d["process_s"] = time.perf_counter() - t
    return d


def med(rows: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--model", default="llama-2-70b")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=128)
    args = ap.parse_args()
    ours = [run("wattlens", args.model, args.prompt, args.new_tokens) for _ in range(args.runs)]
    anchor = [run("flopcounter", args.model, args.prompt, args.new_tokens) for _ in range(args.runs)]
    a_s, fc_s = med(ours, "analysis_s"), med(anchor, "analysis_s")
    each = ", ".join(f"{r['analysis_s']:.2f}" for r in ours)
    fc_full = med(anchor, "prefill_s") + args.new_tokens * med(anchor, "step_s")
    print(
        f"wattlens analyze {args.model} --phase generate --prompt {args.prompt} --new-tokens {args.new_tokens} "
        f"(h200), median of {args.runs} fresh processes:"
    )
    print(
        f"  analysis time      {a_s:.2f} s  (capture {med(ours, 'capture_s'):.2f} s, energy model "
        f"{med(ours, 'model_s'):.3f} s; runs: {each})  target <= 5 s"
    )
    print(f"  peak RSS           {med(ours, 'peak_rss_mb'):.0f} MB  target <= 500 MB")
    print(f"  import             {med(ours, 'import_s'):.2f} s; whole process {med(ours, 'process_s'):.2f} s")
    print(
        f"  ops dispatched     {int(med(ours, 'ops'))} (decode traced at contexts {ours[0]['contexts']}, exact: "
        f"{ours[0]['exact']})"
    )
    print(f"  FLOPs              {ours[0]['flops']:.4g}")
    print("anchor: torch FlopCounterMode plain count, same model build, prefill + 3 decode steps:")
    print(
        f"  FlopCounterMode    {fc_s:.2f} s  (prefill {med(anchor, 'prefill_s'):.2f} s, per decode step "
        f"{med(anchor, 'step_s'):.2f} s); peak RSS {med(anchor, 'peak_rss_mb'):.0f} MB"
    )
    print(f"  ratio wattlens / FlopCounterMode (same passes) = {a_s / fc_s:.2f}")
    print(
        f"  FlopCounterMode extrapolated to all {args.new_tokens} decode steps op by op: {fc_full:.1f} s "
        f"(wattlens is {fc_full / a_s:.1f}x faster thanks to the affine integration)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
