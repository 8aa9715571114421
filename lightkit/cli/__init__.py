"""The ``lightkit`` command: dispatches to one subcommand and imports only what it needs.

``lightkit --help``, ``lightkit plugins ...`` and ``lightkit completion ...`` import neither torch
nor any plugin; ``fit``, ``validate``, ``test`` and ``predict`` load Lightning and the plugins
they select.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lightkit.errors import LightkitError, UsageError
from lightkit.registry import did_you_mean
from lightkit.render import capture_thread_errors, debug_enabled, explain, print_error, report_thread_errors

__all__ = ["main"]

TRAIN_COMMANDS = {
    "fit": "Train a model (runs the full optimisation routine).",
    "validate": "Run one evaluation epoch over the validation set.",
    "test": "Run one evaluation epoch over the test set.",
    "predict": "Predict on the data module's predict set and write a CSV.",
}
#: command -> (module under lightkit.cli with a ``main(argv) -> int``, one-line help).
#: None of these modules may import torch at import time.
OTHER_COMMANDS: dict[str, tuple[str, str]] = {
    "sweep": ("sweep", "Search hyperparameters with Optuna; every trial is a run directory."),
    "tune": ("tune", "Find a learning rate or batch size with Lightning's Tuner."),
    "serve": ("serve", "Serve a trained run over HTTP (LitServe): POST rows, get predictions."),
    "export": ("export", "Export a trained run to ONNX with its preprocessing, checked for parity."),
    "runs": ("runs", "List, show and plot run directories."),
    "plugins": ("plugins", "List, inspect and check the installed plugins."),
    "new-plugin": ("scaffold", "Create a pip-installable plugin package."),
    "completion": ("completion", "Print a bash or zsh completion script."),
}


def _available() -> dict[str, tuple[str, str]]:
    from importlib.util import find_spec

    return {name: spec for name, spec in OTHER_COMMANDS.items() if find_spec(f"lightkit.cli.{spec[0]}")}

_HELP = """usage: lightkit [--version] [--debug] <command> [options]

Train and serve PyTorch Lightning models from YAML; models, data modules and callbacks
are plugins found through entry points.

commands:
{commands}

examples:
  lightkit fit --config configs/wine_mlp.yaml
  lightkit predict --ckpt_path runs/<run>/checkpoints/best.ckpt
  lightkit fit --model TabularMLP --data SklearnDataModule --data.dataset breast_cancer
  lightkit plugins list

Run `lightkit <command> --help` for a command's options. --debug (or LIGHTKIT_DEBUG=1)
shows tracebacks.
"""


def _help() -> str:
    rows = {**TRAIN_COMMANDS, **{name: text for name, (_, text) in _available().items()}}
    return _HELP.format(commands="\n".join(f"  {name:<11} {text}" for name, text in rows.items()))


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lightkit")
    except PackageNotFoundError:
        return "unknown"


def _working_directory_importable() -> None:
    """Let configs and checkpoints name modules in the working directory (``mymodels.Regressor``).

    ``python train.py`` puts the script's folder on the import path and ``python -m`` the working
    directory; the ``lightkit`` console script puts neither. It is appended, not prepended, so it
    never shadows an installed module (uvicorn's ``--app-dir`` does the same by default).
    """
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


def _onnx_predict(args: list[str]) -> bool:
    """``lightkit predict --model_file X.onnx``: prediction with ONNX Runtime, without torch."""
    from importlib.util import find_spec

    wants = any(a == "--model_file" or a.startswith("--model_file=") for a in args)
    return wants and find_spec("lightkit.cli.export") is not None


def _dispatch(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        print(_help(), end="")
        return 0
    if args[0] == "--version":
        print(f"lightkit {_version()}")
        return 0
    # -- help from the cache (lightkit.cli.help_cache): `fit --help`, `--model.help X`,
    # `plugins show X` answer without torch when nothing was installed since the last call
    from lightkit.cli import help_cache

    if help_cache.cacheable(args):
        return help_cache.answer(args, _dispatch)
    # --
    command, rest = args[0], args[1:]
    if command in TRAIN_COMMANDS:
        from lightkit.cli.argv import config_values
        from lightkit.config_yaml import CONFIG_SECTIONS, check_config_files

        # a hostile or broken config fails here, before torch is imported (lightkit.config_yaml)
        check_config_files(config_values(rest), CONFIG_SECTIONS, tuple(TRAIN_COMMANDS))
        _working_directory_importable()
        if command == "predict" and _onnx_predict(rest):  # torch-free: lightkit.cli.export
            from lightkit.cli.export import predict_onnx

            return int(predict_onnx(rest))
        from lightkit.cli import cv

        if cv.handles(command, rest):  # `fit --cv.folds K`, or a cross-validation directory as --ckpt_path
            return cv.main(args)
        from lightkit.cli.lightkit_cli import LightkitCLI, command_options

        LightkitCLI(args=args, **command_options())
        return 0
    available = _available()
    if command in available:
        import importlib

        module = importlib.import_module(f"lightkit.cli.{available[command][0]}")
        return int(module.main(rest))
    known = [*TRAIN_COMMANDS, *available]
    hint = did_you_mean(command, known)
    raise UsageError(f"unknown command {command!r}", hint + f"commands are: {', '.join(known)}.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``lightkit`` command line; returns the exit code.

    Args:
        argv: Arguments without the program name; by default ``sys.argv[1:]``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    from lightkit.warning_lines import install as show_warnings_as_lines  # standard library only

    show_warnings_as_lines()
    if "--debug" in args:
        args.remove("--debug")
        os.environ["LIGHTKIT_DEBUG"] = "1"
    held = capture_thread_errors()  # a background thread's traceback never leaks (lightkit.render)
    try:
        return _dispatch(args)
    except LightkitError as err:
        if debug_enabled():
            raise
        return print_error(err)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # anything else: a few lines, the traceback only with --debug
        if debug_enabled():
            raise
        return print_error(explain(err, args))
    finally:
        report_thread_errors(held)


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s code."""
    sys.exit(main())
