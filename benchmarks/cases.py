"""The benchmark cases of issue #5, group by group, as commands to run.

Groups (each is measured interleaved, see :mod:`benchmarks.measure`):

* ``startup``: ``lightkit --help``, ``plugins list``, ``fit --help`` and ``fit --print_config``,
  next to a bare interpreter, the jsonargparse+rich+importlib.metadata floor,
  ``import lightning.pytorch`` and a plain LightningCLI script.
* ``discovery``: ``plugins list`` and ``fit --print_config`` with 0, 20 and 200 extra plugin
  distributions on ``PYTHONPATH``.
* ``fit``: ``TabularMLP`` through ``lightkit fit`` on a CSV table, next to plain Lightning with
  ``TensorDataset`` + ``DataLoader(shuffle=True)`` and a hand-written PyTorch loop.
* ``predict``: the same three, predicting every row of the table and writing a CSV.
* ``overhead``: milliseconds per training step as Lightning's pieces are added one by one
  (:mod:`benchmarks.step_overhead`), to show where lightkit's time per step goes.
* ``scale``: ``lightkit fit`` at 200k, 2M and (``--scale-rows``) 10M rows (the largest reads
  Parquet, the others CSV), a tiny table for the import floor, and ``lightkit predict`` of the 2M
  rows (issue #18).
* ``formats``: the data module's preparation (read, preprocess, split tensors) of the same table
  as CSV through pyarrow's reader and through pandas' C parser, as Parquet and as Feather.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fake_plugins import write_fake_plugins
from benchmarks.measure import Case

__all__ = ["GROUPS", "Settings", "build_cases", "lightkit_command", "plugins_command_available"]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
GROUPS = ("startup", "discovery", "fit", "predict", "overhead", "scale", "formats")

#: the help requests answered from the help cache (lightkit.cli.help_cache), as (key, label, args)
CACHED_HELP = (
    ("fit_help", "lightkit fit --help", ["fit", "--help"]),
    ("model_help", "lightkit fit --model.help TabularMLP", ["fit", "--model.help", "TabularMLP"]),
    ("data_help", "lightkit fit --data.help CSVDataModule", ["fit", "--data.help", "CSVDataModule"]),
    ("plugins_show", "lightkit plugins show TabularMLP", ["plugins", "show", "TabularMLP"]),
)
#: the help cache off: what the cached cases are compared with (the real parser, torch imported)
NO_HELP_CACHE = {"LIGHTKIT_HELP_CACHE": "0"}

#: the model and data selected for the ``--print_config`` cases
PRINT_CONFIG = ["fit", "--model", "TabularMLP", "--data", "SklearnDataModule", "--print_config"]
PLAIN_PRINT_CONFIG = [
    "fit",
    "--model",
    "lightkit.components.tabular_mlp.TabularMLP",
    "--data",
    "lightkit.components.sklearn_data.SklearnDataModule",
    "--print_config",
]
STOPWATCH = "--trainer.callbacks+=benchmarks.stopwatch.Stopwatch"


@dataclass
class Settings:
    """Sizes of one benchmark run.

    Attributes:
        workdir: Where tables, plugins, runs, checkpoints and logs go.
        rows: Rows of the table.
        epochs: Training epochs.
        batch_size: Training batch size (evaluation and prediction use four times as many rows).
        val_fraction: Rows held out for validation.
        plugin_counts: Extra plugin distributions for the discovery cases.
        smoke: The quick check of the test suite: leaves out the cases that only repeat what others
            already exercise (start-up and discovery cases that import Lightning, plain-Lightning
            prediction).
        overhead_batch_sizes: Batch sizes of the per-step breakdown.
        scale_rows: Table sizes of the scale cases; the largest (when more than one) reads Parquet.
        scale_epochs: Training epochs of the scale cases.
    """

    workdir: Path
    rows: int = 200_000
    epochs: int = 3
    batch_size: int = 256
    val_fraction: float = 0.2
    plugin_counts: tuple[int, ...] = (0, 20, 200)
    smoke: bool = False
    overhead_batch_sizes: tuple[int, ...] = (64, 256, 1024)
    scale_rows: tuple[int, ...] = (200_000, 2_000_000)
    scale_epochs: int = 1

    @property
    def cache(self) -> Path:
        """The help cache of every lightkit case (never the user's)."""
        return self.workdir / "help-cache"

    def scale_table(self, rows: int) -> Path:
        """The table of a scale case: Parquet for the largest of several sizes, else CSV."""
        parquet = len(self.scale_rows) > 1 and rows == max(self.scale_rows)
        return self.workdir / (f"table_{rows}x32.parquet" if parquet else f"table_{rows}x32.csv")

    @property
    def table(self) -> Path:
        return self.workdir / f"table_{self.rows}x32.csv"

    @property
    def train_rows(self) -> int:
        return self.rows - int(round(self.rows * self.val_fraction))


def lightkit_command() -> list[str]:
    """The ``lightkit`` console script next to this interpreter, else ``python -m lightkit``."""
    script = Path(sys.executable).parent / "lightkit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lightkit"]


def plugins_command_available() -> bool:
    """Whether this lightkit has ``lightkit plugins`` (it is built separately)."""
    return importlib.util.find_spec("lightkit.cli.plugins") is not None


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def startup_cases(settings: Settings) -> list[Case]:
    lk = lightkit_command()
    cache = {"LIGHTKIT_CACHE_DIR": str(settings.cache)}
    cases = [
        Case("startup.python", "python -c pass (interpreter floor)", _python("-c", "pass")),
        Case(
            "startup.deps_floor",
            "import jsonargparse, rich, importlib.metadata (floor)",
            _python("-c", "import jsonargparse, rich, importlib.metadata"),
        ),
        Case("startup.lightkit_help", "lightkit --help", [*lk, "--help"]),
    ]
    if plugins_command_available():
        cases.append(Case("startup.plugins_list", "lightkit plugins list", [*lk, "plugins", "list"]))
    if not settings.smoke:
        plain = str(HERE / "plain_cli.py")
        cases += [
            Case(
                "startup.import_lightning",
                'python -c "import lightning.pytorch"',
                _python("-c", "import lightning.pytorch"),
            ),
            Case(
                "startup.fit_help",
                "lightkit fit --help, help cache off",
                [*lk, "fit", "--help"],
                NO_HELP_CACHE,
            ),
            Case("startup.plain_fit_help", "plain LightningCLI: fit --help", _python(plain, "fit", "--help")),
            Case(
                "startup.print_config",
                "lightkit fit --model --data --print_config",
                [*lk, *PRINT_CONFIG],
                NO_HELP_CACHE,
            ),
            Case(
                "startup.plain_print_config",
                "plain LightningCLI: fit --model --data --print_config",
                _python(plain, *PLAIN_PRINT_CONFIG),
            ),
        ]
    # answered from the help cache: the warm-up sample (or the first one, when smoke) fills it
    for key, label, args in CACHED_HELP:
        cases.append(Case(f"startup.cached_{key}", f"{label}, from the help cache", [*lk, *args], cache))
    return cases


def discovery_cases(settings: Settings) -> list[Case]:
    lk = lightkit_command()
    cases = []
    for count in settings.plugin_counts:
        directory = write_fake_plugins(settings.workdir / f"plugins_{count}", count)
        env = {"PYTHONPATH": f"{directory}:{REPO}"}
        if plugins_command_available():
            cases.append(
                Case(
                    f"discovery.plugins_list.{count}",
                    f"lightkit plugins list, {count} extra plugins",
                    [*lk, "plugins", "list"],
                    env,
                )
            )
        if not settings.smoke:
            label = f"lightkit fit --print_config, {count} extra plugins"
            cases.append(Case(f"discovery.print_config.{count}", label, [*lk, *PRINT_CONFIG], env))
    return cases


def _written(writer: str, path: Path, *args: object) -> Path:
    """``benchmarks.table.<writer>(path, *args)`` run in a child process, unless ``path`` exists.

    The runner's own memory must stay small: a case's peak RSS (``ru_maxrss`` from ``wait4``)
    includes the resident memory of the runner it was forked from, until it execs.
    """
    if not path.exists():
        call = f"from pathlib import Path; from benchmarks.table import {writer}; "
        call += f"{writer}(Path({str(path)!r}), *{args!r})"
        subprocess.run([sys.executable, "-c", call], cwd=REPO, check=True)
    return path


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def lightkit_fit_argv(
    settings: Settings, model: str, run_name: str, table: Path | None = None, epochs: int | None = None
) -> list[str]:
    """``lightkit fit`` of ``model`` on the benchmark table (or ``table``), timed by the Stopwatch."""
    return [
        *lightkit_command(),
        "fit",
        "--model",
        model,
        "--data",
        "CSVDataModule",
        "--data.path",
        str(table or settings.table),
        "--data.target",
        "y",
        "--data.val_fraction",
        str(settings.val_fraction),
        "--data.test_fraction",
        "0",
        "--data.batch_size",
        str(settings.batch_size),
        "--trainer.max_epochs",
        str(epochs or settings.epochs),
        "--seed_everything",
        "42",
        "--trainer.default_root_dir",
        str(settings.workdir / "runs"),
        "--run.name",
        run_name,
        STOPWATCH,
    ]


def _reference_argv(settings: Settings, script: str, mode: str, model_file: str) -> list[str]:
    argv = _python(str(HERE / script), mode, str(settings.table), str(settings.workdir / model_file))
    argv += ["--epochs", str(settings.epochs), "--batch-size", str(settings.batch_size)]
    return argv + ["--val-fraction", str(settings.val_fraction)]


def fit_cases(settings: Settings) -> list[Case]:
    _written("write_table", settings.table, settings.rows)
    runs = settings.workdir / "runs"
    cases = [
        Case(
            "fit.lightkit",
            "lightkit fit (TabularMLP, CSVDataModule)",
            lightkit_fit_argv(settings, "TabularMLP", "lightkit-fit"),
            before=lambda _: _remove(runs / "lightkit-fit"),
        ),
        Case(
            "fit.plain_lightning",
            "plain Lightning, TensorDataset + DataLoader(shuffle=True)",
            _reference_argv(settings, "plain_lightning.py", "fit", "plain_lightning.pt"),
        ),
        Case(
            "fit.hand_loop",
            "hand-written PyTorch loop",
            _reference_argv(settings, "hand_loop.py", "fit", "hand_loop.pt"),
        ),
        Case(
            "fit.bare_trainer",
            "bare Lightning Trainer with lightkit's model and loader",
            _reference_argv(settings, "bare_trainer.py", "fit", "bare_trainer"),
        ),
    ]
    return cases


def predict_cases(settings: Settings) -> list[Case]:
    """Prediction over every row; needs the checkpoints the ``fit`` group left behind."""
    lk = lightkit_command()
    out = settings.workdir
    argv = [
        *lk,
        "predict",
        "--ckpt_path",
        str(out / "runs" / "lightkit-fit"),
        "--data.path",
        str(settings.table),
    ]
    argv += ["--run.output", str(out / "predictions_lightkit.csv"), STOPWATCH]
    plain = _reference_argv(settings, "plain_lightning.py", "predict", "plain_lightning.pt")
    hand = _reference_argv(settings, "hand_loop.py", "predict", "hand_loop.pt")
    cases = [Case("predict.lightkit", "lightkit predict (writes predictions.csv)", argv)]
    if not settings.smoke:
        label = "plain Lightning predict + pandas to_csv"
        cases.append(
            Case(
                "predict.plain_lightning",
                label,
                [*plain, "--output", str(out / "predictions_plain_lightning.csv")],
            )
        )
    label = "hand-written loop + pandas to_csv"
    cases.append(
        Case("predict.hand_loop", label, [*hand, "--output", str(out / "predictions_hand_loop.csv")])
    )
    return cases


#: most steps per variant in the per-step breakdown (an epoch of the fit case at batch size 256)
MAX_OVERHEAD_STEPS = 625


def overhead_cases(settings: Settings) -> list[Case]:
    """One process per batch size, each alternating the step variants itself."""
    cases = []
    for batch_size in settings.overhead_batch_sizes:
        steps = max(1, min(settings.train_rows // batch_size, MAX_OVERHEAD_STEPS))
        argv = _python(str(HERE / "step_overhead.py"), "--steps", str(steps), "--batch-size", str(batch_size))
        argv += ["--repeats", "3", "--root", str(settings.workdir / "step_overhead")]
        label = f"ms per training step, {steps} steps of {batch_size} rows"
        cases.append(Case(f"overhead.steps.{batch_size}", label, argv))
    return cases


#: rows of the table whose fit measures the import floor of the scale cases (RSS with next to no data)
FLOOR_ROWS = 2_000


def scale_cases(settings: Settings) -> list[Case]:
    """``lightkit fit`` at every scale size (one epoch by default), the floor, and predict at 2M."""
    runs = settings.workdir / "runs"
    floor = _written("write_table", settings.workdir / f"table_{FLOOR_ROWS}x32.csv", FLOOR_ROWS)
    cases = [
        Case(
            "scale.floor",
            f"lightkit fit, {FLOOR_ROWS:,} rows (import floor)",
            lightkit_fit_argv(settings, "TabularMLP", "scale-floor", floor, settings.scale_epochs),
            before=lambda _: _remove(runs / "scale-floor"),
        )
    ]
    for rows in settings.scale_rows:
        table = settings.scale_table(rows)
        if table.suffix == ".parquet":
            _written("write_parquet_table", table, rows)
        else:
            _written("write_table", table, rows)
        name = f"scale-{rows}"
        cases.append(
            Case(
                f"scale.fit.{rows}",
                f"lightkit fit, {rows:,} rows ({table.suffix[1:]})",
                lightkit_fit_argv(settings, "TabularMLP", name, table, settings.scale_epochs),
                before=lambda _, name=name: _remove(runs / name),
            )
        )
    predicted = [r for r in settings.scale_rows if r == 2_000_000] or settings.scale_rows[-1:]
    for rows in predicted:
        argv = [*lightkit_command(), "predict", "--ckpt_path", str(runs / f"scale-{rows}")]
        argv += ["--data.path", str(settings.scale_table(rows))]
        argv += ["--run.output", str(settings.workdir / f"predictions_scale_{rows}.csv"), STOPWATCH]
        cases.append(Case(f"scale.predict.{rows}", f"lightkit predict, {rows:,} rows", argv))
    return cases


#: read modes of benchmarks/read_formats.py and the table file each reads
FORMAT_MODES = (
    ("csv-pandas", "csv"),
    ("csv", "csv"),
    ("csv-pyarrow", "csv"),
    ("parquet", "parquet"),
    ("feather", "feather"),
)


def formats_cases(settings: Settings) -> list[Case]:
    """The data module's preparation of the benchmark table in each format."""
    csv = _written("write_table", settings.table, settings.rows)
    files = {"csv": csv}
    for suffix in ("parquet", "feather"):
        files[suffix] = _written("write_columnar", csv.with_suffix(f".{suffix}"), str(csv))
    labels = {
        "csv-pandas": "CSV, pandas' C parser, whole file (lightkit's fallback)",
        "csv": "CSV, lightkit's choice (pandas' C parser in chunks, float32)",
        "csv-pyarrow": "CSV, pandas' pyarrow engine",
        "parquet": "Parquet",
        "feather": "Feather",
    }
    return [
        Case(f"formats.{mode}", labels[mode], _python(str(HERE / "read_formats.py"), mode, str(files[kind])))
        for mode, kind in FORMAT_MODES
    ]


def build_cases(group: str, settings: Settings) -> list[Case]:
    """The cases of one group."""
    return {
        "startup": startup_cases,
        "discovery": discovery_cases,
        "fit": fit_cases,
        "predict": predict_cases,
        "overhead": overhead_cases,
        "scale": scale_cases,
        "formats": formats_cases,
    }[group](settings)
