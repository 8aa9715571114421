"""``check_plugin``: the conformance kit a plugin author runs in their tests.

Checks, in order (the later ones need the entry point to load):

==================  ==========================================================================
``entry-point``     the name is registered, its module imports, and it is the right kind of class
``init-args``       every ``__init__`` argument is typed and documented, so ``--help`` is complete
``fast-dev-run``    ``lightkit fit``, ``validate`` and ``predict`` with ``--trainer.fast_dev_run``
``config``          ``--print_config`` output parses back to the same values
``checkpoint``      a saved checkpoint, loaded by ``lightkit predict``, predicts what the model
                    in memory predicts
``export``          ``lightkit export`` writes model.onnx and preprocess.json, and ONNX Runtime
                    reproduces the checkpoint (skipped without the ``export`` extra, or when the
                    data module has no export hooks: see docs/exporting.md)
``import-time``     the plugin module imports within a budget (in a fresh interpreter)
==================  ==========================================================================
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lightkit.testing.cli_runs import CliRun, quiet_lightning_logs, run_cli
from lightkit.testing.import_time import ImportTiming, import_budget, start_import_timing
from lightkit.testing.report import CheckResult, ConformanceError, ConformanceReport
from lightkit.testing.signature import init_argument_problems

__all__ = ["CHECKS", "check_plugin"]

#: every check, in the order it runs
CHECKS: tuple[str, ...] = (
    "entry-point",
    "init-args",
    "fast-dev-run",
    "config",
    "checkpoint",
    "export",
    "import-time",
)

_BASE = {"models": "LightningModule", "datamodules": "LightningDataModule", "callbacks": "Callback"}
_NOUN = {"models": "model", "datamodules": "data module", "callbacks": "callback"}


class _Subject:
    """The plugin under test, its pairing, and the command-line arguments that select them."""

    def __init__(
        self, plugin: Any, cls: type, model: str | None, data: str | None, args: Sequence[str], workdir: Path
    ) -> None:
        self.plugin = plugin
        self.cls = cls
        self.kind: str = plugin.kind
        self.workdir = workdir
        self.model = plugin.name if self.kind == "models" else model
        self.data = plugin.name if self.kind == "datamodules" else data
        self.callback = plugin.name if self.kind == "callbacks" else None
        self.args = list(args)

    def selection(self) -> list[str]:
        argv = ["--model", str(self.model), "--data", str(self.data)]
        if self.callback:
            argv += ["--trainer.callbacks+", self.callback]
        return [*argv, *self.args]

    def common(self) -> list[str]:
        return [
            "--seed_everything",
            "0",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "1",
            "--trainer.default_root_dir",
            str(self.workdir / "runs"),
        ]


def _find(name: str, kind: str | None) -> Any:
    from lightkit import registry

    registry.refresh()
    kinds = [kind] if kind else list(registry.KINDS)
    matches = [k for k in kinds if any(p.name == name for p in registry.list_plugins(k))]
    if len(matches) > 1:
        raise ValueError(f"{name!r} is registered as {' and '.join(matches)}: pass kind= to choose one")
    return registry.find(matches[0] if matches else (kind or "models"), name)


def _entry_point(name: str, kind: str | None) -> tuple[CheckResult, Any, type | None]:
    from lightkit.errors import PluginError

    group_lines = "; ".join(f'"lightkit.{k}"' for k in ("models", "datamodules", "callbacks"))
    try:
        plugin = _find(name, kind)
    except PluginError as err:
        fix = (
            f"register it under [project.entry-points.<group>] in pyproject.toml (groups {group_lines}), "
            "then reinstall the package: pip install -e ."
        )
        return CheckResult("entry-point", "fail", err.message, [err.hint or ""], fix=fix), None, None
    from lightkit import registry

    try:
        cls = registry.load(plugin)
    except PluginError as err:
        summary = err.message
        return CheckResult("entry-point", "fail", summary, fix=err.hint or ""), plugin, None
    summary = f"{plugin.target} imports and is a {_BASE[plugin.kind]} subclass"
    return CheckResult("entry-point", "pass", summary), plugin, cls


def _init_args(cls: type) -> CheckResult:
    problems = init_argument_problems(cls)
    if not problems:
        return CheckResult("init-args", "pass", "every __init__ argument is typed and documented")
    return CheckResult(
        "init-args",
        "fail",
        f"{len(problems)} problem(s) keep `--help` incomplete",
        [f"- {p}" for p in problems],
        fix="type every __init__ argument and describe it under `Args:` in the class docstring (Google "
        "style); jsonargparse turns both into the CLI help and the config schema.",
    )


def _failed_run(check: str, what: str, run: CliRun, fix: str) -> CheckResult:
    return CheckResult(
        check,
        "fail",
        f"{what} failed (exit {run.code})",
        [f"$ lightkit {' '.join(run.argv)}", *run.problem()],
        fix=fix,
    )


def _fast_dev_run(subject: _Subject) -> CheckResult:
    fast = ["--trainer.fast_dev_run", "true"]
    fixes = {
        "fit": "make training_step return a loss tensor, and the data module's train_dataloader yield "
        "batches that the model's training_step accepts.",
        "validate": "implement validation_step in the model and val_dataloader in the data module.",
        "predict": "implement predict_step (one tensor per batch, one row per sample) and "
        "predict_dataloader.",
    }
    for command in ("fit", "validate", "predict"):
        extra = (
            ["--run.output", str(subject.workdir / "fast-predictions.csv")] if command == "predict" else []
        )
        run = run_cli([command, *subject.selection(), *subject.common(), *fast, *extra])
        if not run.ok:
            return _failed_run("fast-dev-run", f"`lightkit {command}` with fast_dev_run", run, fixes[command])
    return CheckResult("fast-dev-run", "pass", "fit, validate and predict ran one batch each")


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            where = f"{prefix}{key}"
            if key not in a or key not in b:
                out.append(f"{where}: only in the {'first' if key in a else 'second'} print")
            else:
                out += _differences(a[key], b[key], where + ".")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{prefix}{i}.")
        ]
    return [] if a == b else [f"{prefix.rstrip('.')}: {a!r} became {b!r}"]


def _config_round_trip(subject: _Subject) -> CheckResult:
    import yaml

    fix = (
        "make every __init__ argument a plain value (number, string, bool, list, dict, or a class given by "
        "class_path/init_args) whose type hint accepts what --print_config writes back."
    )
    first = run_cli(["fit", *subject.selection(), "--print_config"])
    if not first.ok:
        return _failed_run("config", "`lightkit fit ... --print_config`", first, fix)
    path = subject.workdir / "printed.yaml"
    path.write_text(first.out)
    second = run_cli(["fit", "--config", str(path), "--print_config"])
    if not second.ok:
        return _failed_run("config", "parsing the printed config back", second, fix)
    try:
        before, after = yaml.safe_load(first.out), yaml.safe_load(second.out)
    except yaml.YAMLError as err:
        return CheckResult("config", "fail", f"--print_config wrote YAML that does not parse: {err}", fix=fix)
    changed = _differences(before, after)
    if changed:
        return CheckResult("config", "fail", "values changed on the way back", changed[:8], fix=fix)
    return CheckResult("config", "pass", "--print_config output parses back to the same values")


def _compare_predictions(expected: list[Any], got: list[Any]) -> list[str]:
    import torch

    if len(expected) != len(got):
        return [f"{len(expected)} predict batches in memory, {len(got)} from the checkpoint"]
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        try:
            torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
        except AssertionError as err:
            lines = [line for line in str(err).splitlines() if line.strip()][:4]
            return [f"batch {i}: the checkpoint's output differs from the in-memory model's", *lines]
    return []


def _in_memory_predictions(cli: Any, subject: _Subject) -> list[Any]:
    from lightning.pytorch import Trainer

    from lightkit.testing.collect import PredictionCollector, collected

    callbacks: list[Any] = [PredictionCollector("memory")]
    if subject.callback:
        callbacks += [c for c in cli.trainer.callbacks if isinstance(c, subject.cls)]
    with quiet_lightning_logs():
        trainer = Trainer(
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            callbacks=callbacks,
            default_root_dir=str(subject.workdir),
        )
        trainer.predict(cli.model, datamodule=cli.datamodule, return_predictions=False)
    return collected("memory")


def _checkpoint_round_trip(subject: _Subject) -> CheckResult:
    from lightkit.testing.collect import collected

    fix = (
        "call self.save_hyperparameters() in the model's __init__, keep learned state in parameters or "
        "persistent buffers, keep checkpoint contents to tensors and plain values (weights_only loading), "
        "and return fitted data state (e.g. preprocessing) from the data module's state_dict()."
    )
    keep: dict[str, Any] = {}
    limits = [
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "2",
    ]
    fit = run_cli(["fit", *subject.selection(), *subject.common(), *limits, "--run.name", "kit"], keep=keep)
    if not fit.ok or "cli" not in keep:
        return _failed_run("checkpoint", "a short `lightkit fit`", fit, fix)
    last = subject.workdir / "runs" / "kit" / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return CheckResult("checkpoint", "fail", f"`lightkit fit` wrote no {last}", fix=fix)
    try:
        expected = _in_memory_predictions(keep["cli"], subject)
    except Exception as err:  # the plugin's predict path failed outside the CLI
        return CheckResult("checkpoint", "fail", f"predicting with the trained model failed: {err}", fix=fix)
    collector = [
        "--trainer.callbacks+",
        "lightkit.testing.collect.PredictionCollector",
        "--trainer.callbacks.key",
        "ckpt",
    ]
    callback = ["--trainer.callbacks+", subject.callback] if subject.callback else []
    output = ["--run.output", str(subject.workdir / "from-checkpoint.csv")]
    predict = run_cli(
        [
            "predict",
            "--ckpt_path",
            str(last),
            *collector,
            *callback,
            *subject.args,
            *subject.common(),
            *output,
        ]
    )
    got = collected("ckpt")
    if not predict.ok:
        return _failed_run("checkpoint", "`lightkit predict --ckpt_path last.ckpt`", predict, fix)
    differences = _compare_predictions(expected, got)
    if differences:
        summary = "the checkpoint predicts differently from the model in memory"
        return CheckResult("checkpoint", "fail", summary, differences, fix=fix)
    return CheckResult(
        "checkpoint", "pass", "`lightkit predict --ckpt_path` reproduces the in-memory predictions"
    )


def _import_time(timing: ImportTiming, budget_s: float) -> CheckResult:
    timing.wait()
    if timing.seconds is None:
        return CheckResult(
            "import-time",
            "fail",
            f"importing {timing.module} in a fresh interpreter failed",
            timing.error.splitlines(),
        )
    slowest = ", ".join(f"{name} {sec:.2f} s" for name, sec in timing.slowest)
    summary = f"{timing.module} imports in {timing.seconds:.2f} s on top of torch and Lightning "
    summary += f"(budget {budget_s:g} s)"
    if timing.seconds <= budget_s:
        return CheckResult("import-time", "pass", summary)
    return CheckResult(
        "import-time",
        "fail",
        summary,
        [f"slowest modules it imports: {slowest}"] if slowest else [],
        fix="do no work at import time (no downloads, no model building), and import heavy optional "
        "libraries inside the functions that use them. Raise the budget with import_budget_s= or "
        "LIGHTKIT_IMPORT_BUDGET_S only if the cost is unavoidable.",
    )


def _timed(check: Callable[[], CheckResult]) -> CheckResult:
    start = time.perf_counter()
    result = check()
    result.seconds = time.perf_counter() - start
    return result


def check_plugin(
    name: str,
    *,
    model: str | None = None,
    data: str | None = None,
    kind: str | None = None,
    args: Sequence[str] = (),
    checks: Sequence[str] | None = None,
    import_budget_s: float | None = None,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Check that an installed plugin works under ``lightkit`` the way users will run it.

    Usage in a plugin's tests::

        from lightkit.testing import check_plugin

        def test_model_conforms():
            check_plugin("MyNet", data="MyData")              # a model, with a data module to train on

        def test_data_conforms():
            check_plugin("MyData", model="MyNet")             # a data module, with a model

        def test_callback_conforms():
            check_plugin("MyCallback", model="MyNet", data="MyData")

    Args:
        name: The plugin's registered (entry-point) name.
        model: The model to pair a data module or callback with: a registered name or a class path.
        data: The data module to pair a model or callback with: a registered name or a class path.
        kind: ``models``, ``datamodules`` or ``callbacks``; needed only when ``name`` is registered
            as more than one kind.
        args: Extra command-line arguments for every run, e.g. ``["--data.path", "rows.csv"]``.
        checks: Run only these checks (see :data:`CHECKS`); by default all of them.
        import_budget_s: Seconds the plugin module may take to import on top of torch and
            Lightning; by default ``LIGHTKIT_IMPORT_BUDGET_S`` or 10.
        raise_on_failure: Raise :class:`ConformanceError` when a check fails; with False, return
            the report and let the caller look at it.

    Returns:
        The report; ``str(report)`` lists every check.

    Raises:
        ConformanceError: A check failed (unless ``raise_on_failure`` is False). Its message is the
            report, with what to fix under each failed check.
        ValueError: The arguments are inconsistent, e.g. a model with no data module to pair.
    """
    __tracebackhide__ = True  # pytest shows the report, not the kit's frames
    wanted = list(CHECKS if checks is None else checks)
    unknown = [c for c in wanted if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {unknown}; checks are {list(CHECKS)}")
    entry, plugin, cls = _entry_point(name, kind)
    subject_text = f"{_NOUN.get(getattr(plugin, 'kind', ''), 'plugin')} {name!r}"
    if plugin is not None:
        subject_text += f" ({plugin.distribution} {plugin.version}, {plugin.target})"
    report = ConformanceReport(subject_text, [entry])
    if cls is None:
        report.results += [
            CheckResult(c, "skip", "needs the entry point to load") for c in wanted if c != "entry-point"
        ]
        return _finish(report, raise_on_failure)
    _check_pairing(plugin.kind, name, model, data)
    paired = [f"{k} {v!r}" for k, v in (("model", model), ("data", data)) if v and v != name]
    if paired:
        report.subject += ", paired with " + " and ".join(paired)
    timing = start_import_timing(plugin.module) if "import-time" in wanted else None
    with tempfile.TemporaryDirectory(prefix="lightkit-kit-") as tmp:
        subject = _Subject(plugin, cls, model, data, args, Path(tmp))
        steps: dict[str, Callable[[], CheckResult]] = {
            "init-args": lambda: _init_args(cls),
            "fast-dev-run": lambda: _fast_dev_run(subject),
            "config": lambda: _config_round_trip(subject),
            "checkpoint": lambda: _checkpoint_round_trip(subject),
            "export": lambda: _export(subject),
        }
        for check, step in steps.items():
            if check in wanted:
                report.results.append(_timed(step))
    if timing is not None:
        report.results.append(_import_time(timing, import_budget(import_budget_s)))
    return _finish(report, raise_on_failure)


def _check_pairing(kind: str, name: str, model: str | None, data: str | None) -> None:
    need = {"models": ("data",), "datamodules": ("model",), "callbacks": ("model", "data")}[kind]
    given = {"model": model, "data": data}
    missing = [k for k in need if not given[k]]
    if missing:
        example = ", ".join(f'{k}="Your{"Model" if k == "model" else "DataModule"}"' for k in missing)
        raise ValueError(
            f"{_NOUN[kind]} {name!r} is trained with a paired {' and '.join(missing)}: "
            f"check_plugin({name!r}, {example})"
        )


def _finish(report: ConformanceReport, raise_on_failure: bool) -> ConformanceReport:
    __tracebackhide__ = True
    if raise_on_failure and not report.ok:
        raise ConformanceError(report)
    return report


# -- export (lightkit.export; see docs/exporting.md) ----------------------------------------------------
def _export(subject: _Subject) -> CheckResult:
    """``lightkit export`` of a short run: one ONNX file, preprocess.json, and the parity check passed."""
    from importlib.util import find_spec

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if find_spec(name) is None]
    if missing:
        summary = f"{', '.join(missing)} not installed: pip install 'lightkit[export]' to check export"
        return CheckResult("export", "skip", summary)
    last = subject.workdir / "runs" / "kit" / "checkpoints" / "last.ckpt"
    if not last.is_file():
        limits = ["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2"]
        fit = run_cli(["fit", *subject.selection(), *subject.common(), *limits, "--run.name", "kit"])
        if not fit.ok or not last.is_file():
            return _failed_run("export", "a short `lightkit fit`", fit, "see the checkpoint check.")
    from lightkit.export import ExportError, export_run

    fix = "If the model is not meant to be exported, leave 'export' out of check_plugin(checks=...)."
    try:
        with quiet_lightning_logs():
            result = export_run(last, output=subject.workdir / "export")
    except ExportError as err:
        if err.stage == "data":
            return _export_without_data_hooks(subject, last, err)
        return CheckResult("export", "fail", err.message, err.details, fix=f"{err.hint} {fix}")
    except Exception as err:  # the plugin's own code failed on the way
        lines = [line for line in str(err).splitlines() if line.strip()][:4]
        summary = f"`lightkit export` failed: {type(err).__name__}"
        return CheckResult("export", "fail", summary, lines, fix=fix)
    onnx, parity = result.record["onnx"], result.record["parity"]
    return CheckResult(
        "export",
        "pass",
        f"model.onnx ({onnx['exporter']}, opset {onnx['opset']}) reproduces the checkpoint on "
        f"{parity['rows']} rows (max abs difference {parity['max_abs_diff']:.2g}, every label equal)",
    )


def _export_without_data_hooks(subject: _Subject, last: Path, err: Any) -> CheckResult:
    """The data module cannot describe its preprocessing: report whether the model alone traces."""
    from lightkit.export import ExportError
    from lightkit.export.onnx_export import trace_forward
    from lightkit.loading import load_run

    model = load_run(last).model
    example = getattr(model, "example_input_array", None)
    if example is None:
        return CheckResult(
            "export",
            "skip",
            f"not exportable: {err.message}",
            ["the model sets no example_input_array, so its forward was not traced either"],
        )
    try:
        trace_forward(model, example, subject.workdir / "forward.onnx")
    except ExportError as failure:
        return CheckResult("export", "fail", failure.message, fix=failure.hint or "")
    return CheckResult(
        "export",
        "skip",
        f"not exportable: {err.message}",
        ["the model's forward does convert to ONNX (traced with its example_input_array)"],
    )
