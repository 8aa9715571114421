"""``lightkit sweep``: search hyperparameters with Optuna; every trial is a normal run directory.

Imports only the standard library at import time; Optuna, and Lightning for the trials, load when
the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lightkit.cli.command_parser import CommandParser
from lightkit.errors import ConfigError, LightkitError, UsageError
from lightkit.runs.layout import RUNS_ROOT

__all__ = ["main"]

_DESCRIPTION = """\
Search hyperparameters with Optuna. Each trial is `lightkit fit` with the base config, the
sampled values as flags, and its own run directory under <dir>/runs/, so any trial reruns
with `lightkit fit --config <dir>/runs/trial-NNNN/config.yaml`.

The study lives in <dir>/study.db (SQLite) unless --storage names a shared database. Running
the same command again continues the study: finished trials are kept, a trial interrupted by
Ctrl-C, kill or a crash is marked failed and run again with the same values, and the study
stops at --n_trials finished or pruned trials. Start the command in several terminals or on
several machines (with one --storage) to run workers in parallel.

Flags the command does not know (such as --trainer.max_epochs 5) are passed to every trial.
"""

_EPILOG = """\
examples:
  lightkit sweep --config configs/breast_cancer_mlp.yaml --sweep configs/sweep_breast_cancer.yaml
  lightkit sweep --config base.yaml --sweep sweep.yaml --n_trials 50 --trainer.max_epochs 10
  lightkit sweep --summary --dir runs/sweeps/breast_cancer --export_best best.yaml
  lightkit sweep ... --storage postgresql://user:pass@db-host:5432/optuna   (many machines)
  lightkit sweep ... --storage journal:///shared/sweeps/study.log          (a shared file system)

See docs/sweeps.md for the sweep file format.
"""


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="lightkit sweep",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="Base config of every trial; repeat to compose several, as with `lightkit fit`.",
    )
    parser.add_argument(
        "--sweep",
        metavar="FILE",
        help="Sweep file: params (search space), metric, direction, sampler, pruner.",
    )
    parser.add_argument(
        "--n_trials",
        type=int,
        metavar="N",
        help="Finished plus pruned trials the study should reach (default: the sweep file's "
        "n_trials, else 20). Counts trials of every run and worker of the study.",
    )
    parser.add_argument(
        "--dir",
        metavar="DIR",
        help="Sweep directory with the study, trial runs and plots (default: runs/sweeps/<name>).",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL shared by many workers, e.g. sqlite:///path/study.db, "
        "postgresql://user:pass@host:5432/db, journal:///shared/path/study.log (a file on a "
        "shared file system, no database), mysql+pymysql://user:pass@host/db "
        "(default: sqlite <dir>/study.db).",
    )
    parser.add_argument(
        "--study_name",
        metavar="NAME",
        help="Study name in the storage (default: the sweep file's name or file stem).",
    )
    parser.add_argument(
        "--export_best",
        metavar="FILE",
        help="Write the best trial's full config here; `lightkit fit --config FILE` reruns it.",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="Run no trial: print the summary table, save the plots (and --export_best).",
    )
    parser.add_argument("--no_plots", action="store_true", help="Do not save the PNG plots.")
    parser.add_argument(
        "--heartbeat_interval",
        type=int,
        default=20,
        metavar="S",
        help="Seconds between two heartbeats of a running trial (default: 20). Use the same value "
        "on every worker of a study.",
    )
    parser.add_argument(
        "--grace_period",
        type=int,
        default=90,
        metavar="S",
        help="Seconds without a heartbeat after which another worker fails a running trial and "
        "queues it again with the same values (default: 90).",
    )
    return parser


def _require_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError(
            "lightkit sweep needs Optuna, which is not installed", "pip install 'lightkit[sweep]'"
        ) from None


def _check_passthrough(extra: list[str]) -> None:
    if extra and not extra[0].startswith("--"):
        raise UsageError(
            f"lightkit sweep: unexpected argument {extra[0]!r}",
            "options are --name value; flags for the trials look like --trainer.max_epochs 5.",
        )


def _rephrase(err: LightkitError, param_names: list[str], source: str) -> LightkitError:
    """Point an error about a searched key at the sweep file instead of the command line."""
    for name in param_names:
        key = name.split("[", 1)[0]
        if f"'--{key}'" in err.message or f"'{key}'" in err.message or key in err.message:
            message = err.message.replace("(from the command line)", f"(from params in {source})")
            if message == err.message:
                message = f"{source}: params.{name}: {err.message}"
            return ConfigError(message, err.hint)
    return err


def _locate(ns: argparse.Namespace, spec: Any) -> tuple[str | None, Path]:
    """Study name and sweep directory; a name of None means the storage's only study."""
    if spec is not None:
        name = ns.study_name or spec.name
    elif ns.study_name:
        name = ns.study_name
    elif ns.dir:
        name = None
    else:
        raise UsageError(
            "lightkit sweep --summary needs --sweep, --dir or --study_name to find the study",
            "e.g. lightkit sweep --summary --dir runs/sweeps/breast_cancer",
        )
    # under the runs root, beside the runs: nothing lands in the working directory itself
    sweep_dir = Path(ns.dir) if ns.dir else Path(RUNS_ROOT) / "sweeps" / str(name)
    return name, sweep_dir


def _open(spec: Any, name: str | None, sweep_dir: Path, ns: argparse.Namespace, create: bool) -> Any:
    """The study and the store it lives in."""
    from lightkit.sweep.storage import Heartbeat, open_store
    from lightkit.sweep.study import open_study, queue_retry, storage_url

    heartbeat = Heartbeat(ns.heartbeat_interval, ns.grace_period)
    url = ns.storage
    if url is None:
        if not create and not (sweep_dir / "study.db").is_file():
            raise UsageError(
                f"no sweep in {sweep_dir} (there is no {sweep_dir / 'study.db'})",
                "pass --dir <sweep directory>, or --storage and --study_name for a shared database.",
            )
        sweep_dir.mkdir(parents=True, exist_ok=True)
        url = storage_url(sweep_dir)
    if spec is None:
        from lightkit.sweep.space import SweepSpec

        spec = SweepSpec(params=[])
    store = open_store(url, sweep_dir, heartbeat, on_stale=queue_retry)
    return open_study(spec, store, name, create=create), store


def _report(study: Any, where: str, sweep_dir: Path, ns: argparse.Namespace) -> None:
    from lightkit.sweep.report import export_best, print_summary, save_plots, write_trials_csv

    print_summary(study, where)
    if study.get_trials(deepcopy=False):
        print(f"trials table: {write_trials_csv(study, sweep_dir / 'trials.csv')}")
    if not ns.no_plots:
        written, skipped = save_plots(study, sweep_dir / "plots")
        if written:
            print(f"plots: {', '.join(str(p) for p in written)}")
        for note in skipped:
            print(f"plot skipped: {note}")
    if ns.export_best:
        best = export_best(study, Path(ns.export_best))
        print(
            f"best config (trial {best.number}) written to {ns.export_best}; "
            f"rerun: lightkit fit --config {ns.export_best}"
        )


def main(argv: list[str]) -> int:
    """Run ``lightkit sweep``; returns the exit code.

    Args:
        argv: The arguments after ``sweep``.
    """
    ns, extra = _parser().parse_known_args(argv)
    _check_passthrough(extra)
    if ns.export_best:  # refused before any trial runs (lightkit.files)
        from lightkit.files import check_output

        inputs = {c: "--config" for c in ns.config or []} | ({ns.sweep: "--sweep"} if ns.sweep else {})
        check_output(ns.export_best, "--export_best", inputs)
    _require_optuna()
    import optuna

    from lightkit.sweep.space import load_sweep_spec
    from lightkit.sweep.study import PRUNERS, SAMPLERS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_sweep_spec(ns.sweep, tuple(SAMPLERS), tuple(PRUNERS)) if ns.sweep else None
    if ns.n_trials is not None and ns.n_trials < 1:
        raise UsageError(f"--n_trials must be at least 1, got {ns.n_trials}")
    name, sweep_dir = _locate(ns, spec)
    if ns.summary:
        study, store = _open(spec, name, sweep_dir, ns, create=False)
        _report(study, store.shown, sweep_dir, ns)
        return 0
    if spec is None or not ns.config:
        raise UsageError(
            "lightkit sweep needs --config <base.yaml> and --sweep <sweep.yaml>",
            "or --summary to show an existing sweep; see `lightkit sweep --help`.",
        )
    for config in ns.config:
        if not Path(config).is_file():
            raise ConfigError(f"config file {config!r} does not exist (from --config)")
    study, store = _open(spec, name, sweep_dir, ns, create=True)
    from lightkit.sweep.runner import SweepRun, run_trials
    from lightkit.sweep.space import trial_flags
    from lightkit.sweep.study import count_done

    base_args = [
        *(a for c in ns.config for a in ("--config", c)),
        *extra,
        "--trainer.default_root_dir",
        str(sweep_dir / "runs"),
    ]
    run = SweepRun(spec, study, sweep_dir, base_args, ns.n_trials or spec.n_trials, store=store)
    done, running = count_done(study)
    if done + running < run.n_trials:
        from lightkit.sweep.trial import check_trial_args

        try:
            check_trial_args([*base_args, *trial_flags(spec, spec.examples()), "--run.name", "check"])
        except LightkitError as err:
            raise _rephrase(err, [p.name for p in spec.params], spec.source) from None
    print(f"sweep directory: {sweep_dir} (trial runs in {sweep_dir / 'runs'})", file=sys.stderr)
    try:
        run_trials(run)
    except KeyboardInterrupt:
        print("sweep interrupted; run the same command again to continue it", file=sys.stderr)
        return 130
    _report(study, store.shown, sweep_dir, ns)
    return 0
