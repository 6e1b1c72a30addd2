"""A tiny DDP training loop (gloo, CPU) measured with wattlens.distributed.measure; run by torchrun in the tests.

usage: ddp_train.py OUT_JSON [--steps N] [--db URL --job ID]
Rank 0 writes the reduced result (DistributedResult.to_dict()) to OUT_JSON.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.distributed as dist
from torch import nn

import wattlens.distributed as wd


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--db")
    ap.add_argument("--job")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    torch.manual_seed(dist.get_rank())
    model = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(256, 64), torch.randn(256, 1)
    with wd.measure("train", db=args.db, job=args.job) as m:
        for _ in range(args.steps):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
    if m.is_reporter:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(m.result.to_dict(), f)
    dist.barrier()  # no rank leaves while another still talks to it (gloo aborts on a closed peer)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
