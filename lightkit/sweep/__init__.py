"""Hyperparameter sweeps on Optuna, where every trial is a normal ``lightkit fit`` run directory.

Layout of a sweep directory (``runs/sweeps/<name>/`` by default)::

    runs/sweeps/<name>/
    ├── study.db                 the Optuna study (SQLite) unless --storage names another database
    ├── runs/trial-0000/ ...     one run directory per trial (config.yaml reruns it)
    ├── trials.csv               every trial: state, value, parameters, duration, run directory
    └── plots/                   optimization_history, param_importances, parallel_coordinate,
                                 intermediate_values (PNG)

Modules: :mod:`~lightkit.sweep.space` reads the sweep file, :mod:`~lightkit.sweep.study` opens the
study and recovers interrupted trials, :mod:`~lightkit.sweep.trial` runs one trial in-process,
:mod:`~lightkit.sweep.runner` is the worker loop and :mod:`~lightkit.sweep.report` prints and
saves the results. Importing this package imports neither torch nor Optuna.
"""

from __future__ import annotations

__all__: list[str] = []
