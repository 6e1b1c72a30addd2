"""One rank of a real DDP training (gloo, CPU) with wattlens' EnergyCallback; torchrun runs it in the tests.

usage: ddp_callbacks.py {hf,lightning} OUT_DIR DB
Each rank writes OUT_DIR/rank<RANK>.json: how many energy keys reached its logs, and what it stored.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


def _energy_keys(rows: list[dict[str, Any]]) -> int:
    return sum(1 for row in rows for k in row if k.startswith("energy/"))


def _hf(out: Path, db: str) -> dict[str, Any]:
    """8 steps of the tiny BERT per rank with the Hugging Face Trainer (a log every 4 steps)."""
    from transformers import Trainer, TrainingArguments

    from tests.integrations.tiny_bert import Tokens, tiny_bert
    from wattlens.integrations.transformers import EnergyCallback

    cb = EnergyCallback(db=db, country="FR")
    args = TrainingArguments(
        output_dir=str(out / "hf"),
        max_steps=8,
        per_device_train_batch_size=4,
        logging_steps=4,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        ddp_backend="gloo",
        ddp_find_unused_parameters=False,
        disable_tqdm=True,  # the Trainer then prints its logs (on local rank 0 only)
    )
    trainer = Trainer(model=tiny_bert(), args=args, train_dataset=Tokens(64, 0), callbacks=[cb])
    trainer.train()
    history = trainer.state.log_history
    final = history[-1] if history else {}
    return {
        "world_size": args.world_size,
        "logs": len(history),
        "energy_keys": _energy_keys(history),
        "final_train_j": final.get("energy/train_j"),
        "run_id": cb.run_id,
        "record": cb.record is not None,
    }


def _lightning(out: Path, db: str) -> dict[str, Any]:
    """One epoch of the small classifier, 10 batches per rank (a log every 2)."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger

    from tests.integrations.tiny_fit import Classifier, loaders
    from wattlens.integrations.lightning import EnergyCallback

    cb = EnergyCallback(db=db, country="FR")
    trainer = pl.Trainer(
        accelerator="cpu",
        strategy="ddp",
        devices=2,
        max_epochs=1,
        callbacks=[cb],
        logger=CSVLogger(str(out / "pl")),
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    train, val = loaders()
    trainer.fit(Classifier(), train, val)
    metrics = [dict(trainer.callback_metrics), dict(trainer.logged_metrics)]
    return {
        "world_size": trainer.world_size,
        "logs": len(trainer.callback_metrics),
        "energy_keys": _energy_keys(metrics),
        "final_train_j": None,
        "run_id": cb.run_id,
        "record": cb.record is not None,
    }


def main() -> None:
    framework, out, db = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(1)
    report = _hf(out, db) if framework == "hf" else _lightning(out, db)
    rank = int(os.environ["RANK"])
    (out / f"rank{rank}.json").write_text(json.dumps({"rank": rank, **report}), encoding="utf-8")
    if dist.is_initialized():
        dist.barrier()  # no rank leaves while another still talks to it (gloo aborts on a closed peer)
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
