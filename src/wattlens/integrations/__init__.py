"""Where users' work runs: training-loop callbacks, MLflow, a pytest energy plugin, an IPython magic.

One module per library, each behind its optional extra; none is imported by ``import wattlens``:

* :mod:`wattlens.integrations.transformers` — ``EnergyCallback`` for the Hugging Face ``Trainer`` (``wattlens[hf]``);
* :mod:`wattlens.integrations.lightning` — ``EnergyCallback`` for PyTorch Lightning (``wattlens[lightning]``);
* :mod:`wattlens.integrations.mlflow` — ``log(result)`` and ``wattlens measure --mlflow`` (``wattlens[mlflow]``);
* :mod:`wattlens.integrations.pytest_plugin` — ``pytest --energy``, budgets and baselines (registered through
  the ``pytest11`` entry point, inactive unless asked);
* :mod:`wattlens.integrations.ipython` — ``%load_ext wattlens`` then ``%%wattlens`` cells.

The two callbacks share :mod:`wattlens.integrations.training` (windows, step cadence, rank rules, the store
record); the rank rules themselves live in :mod:`wattlens.tracking.ranks`.
"""
