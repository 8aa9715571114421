"""``LightkitCLI``: LightningCLI with short names, run directories and self-describing checkpoints.

It is a drop-in replacement: same arguments, same behaviour otherwise, plus short errors.

What it adds, hook by hook:

* ``parse_arguments``: plugins selected by short name are checked and loaded; ``--ckpt_path``
  accepts ``best``, ``last`` or a run directory, and the config stored in that checkpoint becomes
  the lowest config layer (checkpoint < config files < flags).
* ``instantiate_classes``: the data module's ``data_shape`` fills the model arguments of the same
  names that were left unset (see :mod:`lightkit.data.shape`).
* ``instantiate_trainer``: a run directory with loggers, best/last checkpoints, the run record,
  a rich or plain progress display and, for ``predict``, a CSV prediction writer.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.callbacks import (
    Callback,
    ModelCheckpoint,
    ProgressBar,
    RichModelSummary,
    RichProgressBar,
)
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger

from lightkit.checkpoints import (
    checkpoint_config,
    load_checkpoint,
    resolve_ckpt_path,
    run_dir_of,
    unsafe_load,
)
from lightkit.cli.argv import flag_value, take_callback_removals, take_print_config, take_sources_flag
from lightkit.cli.config_errors import translate_argument_error
from lightkit.cli.options import RunOptions
from lightkit.cli.printing import highlighted_print_config, inline, print_table
from lightkit.cli.shortnames import check_selected, install_resolver
from lightkit.components.prediction_writer import PredictionWriter
from lightkit.data.shape import SHAPE_KEYS
from lightkit.errors import ConfigError, LightkitError
from lightkit.quiet import quiet_lightning
from lightkit.render import debug_enabled, print_error
from lightkit.runs import RUNS_ROOT, new_run_dir, versions_record
from lightkit.training.checkpoint_io import AtomicCheckpointIO
from lightkit.training.progress import PlainProgress
from lightkit.training.recorder import RunRecorder
from lightkit.training.resume import RngState, RunCSVLogger
from lightkit.training.termination import SaveOnTerminate
from lightkit.trust import apply_import_policy

__all__ = ["LightkitCLI"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict")

#: set by rank 0 so that the processes Lightning's DDP launcher starts share its run directory
_RUN_DIR_ENV = "LIGHTKIT_RUN_DIR"


def _short(class_path: Any) -> str:
    return str(class_path or "none").rsplit(".", 1)[-1]


def _profiler_into(name: str, run_dir: Path) -> Any:
    """``--trainer.profiler simple|advanced|pytorch`` as a profiler that writes its report into the run."""
    from lightning.pytorch.profilers import AdvancedProfiler, PyTorchProfiler, SimpleProfiler

    kinds = {"simple": SimpleProfiler, "advanced": AdvancedProfiler, "pytorch": PyTorchProfiler}
    return kinds[name](dirpath=str(run_dir), filename="profile") if name in kinds else name


class LightkitCLI(LightningCLI):
    """LightningCLI with short names, run directories, self-describing checkpoints and short errors.

    Takes exactly the arguments of ``LightningCLI``.
    """

    def __init__(
        self,
        model_class: Any = None,
        datamodule_class: Any = None,
        save_config_callback: type[SaveConfigCallback] | None = SaveConfigCallback,
        save_config_kwargs: dict[str, Any] | None = None,
        trainer_class: Any = Trainer,
        trainer_defaults: dict[str, Any] | None = None,
        seed_everything_default: bool | int = True,
        parser_kwargs: dict[str, Any] | None = None,
        parser_class: type[LightningArgumentParser] = LightningArgumentParser,
        subclass_mode_model: bool = False,
        subclass_mode_data: bool = False,
        args: Any = None,
        run: bool = True,
        auto_configure_optimizers: bool = True,
        load_from_checkpoint_support: bool = True,
    ) -> None:
        install_resolver()
        apply_import_policy()  # what a config may import (lightkit.trust; LIGHTKIT_STRICT=1)
        quiet_lightning()
        argv = (
            list(sys.argv[1:] if args is None else args) if not isinstance(args, (dict, Namespace)) else None
        )
        self._argv = argv
        self._only_subcommand = next((a for a in argv or [] if a in _SUBCOMMANDS), None) if run else None
        self._checkpoint: dict[str, Any] | None = None
        self._checkpoint_layer: dict[str, Any] = {}
        self.run_dir: Path | None = None
        self.early_datamodule: LightningDataModule | None = None
        try:
            super().__init__(
                model_class=model_class,
                datamodule_class=datamodule_class,
                save_config_callback=save_config_callback,
                save_config_kwargs=save_config_kwargs,
                trainer_class=trainer_class,
                trainer_defaults=trainer_defaults,
                seed_everything_default=seed_everything_default,
                parser_kwargs=parser_kwargs,
                parser_class=parser_class,
                subclass_mode_model=subclass_mode_model,
                subclass_mode_data=subclass_mode_data,
                args=argv if argv is not None else args,
                run=run,
                auto_configure_optimizers=auto_configure_optimizers,
                load_from_checkpoint_support=load_from_checkpoint_support,
            )
        except LightkitError as err:
            if debug_enabled():
                raise
            raise SystemExit(print_error(err)) from None

    # -- parser ------------------------------------------------------------------------------------
    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        """The parser: raises errors instead of printing the whole usage; no abbreviated flags.

        ``--trainer.max_epoch`` must not silently mean ``--trainer.max_epochs``.
        """
        kwargs.setdefault("exit_on_error", False)
        kwargs.setdefault("allow_abbrev", False)
        return super().init_parser(**kwargs)

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        # Build only the parser of the subcommand being run: each one introspects the Trainer,
        # the model and the data again, and nobody runs two at once.
        if self._only_subcommand is None:
            return super()._add_subcommands(parser, **kwargs)
        everything = LightningCLI.subcommands()
        self.subcommands = lambda: {self._only_subcommand: everything[self._only_subcommand]}  # type: ignore[method-assign]
        try:
            super()._add_subcommands(parser, **kwargs)
        finally:
            del self.subcommands

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add ``--run.name``, ``--run.root`` and ``--run.output``."""
        parser.add_class_arguments(RunOptions, "run", as_group=True)

    # -- parsing -----------------------------------------------------------------------------------
    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Check selected plugins, add the checkpoint's config layer, then parse.

        ``--print_config=sources`` prints every value with where it came from (see
        :mod:`lightkit.cli.provenance`); on a terminal ``--print_config`` is syntax-highlighted.
        """
        show_sources = skip_default = False
        removals: list[str] = []
        print_flags: list[str] | None = None
        if self._argv is not None:
            check_selected(self._argv, self._only_subcommand)
            argv, show_sources, skip_default = take_sources_flag(self._argv)
            argv, removals = take_callback_removals(argv)
            if removals:  # print the config only once the removals are applied
                argv, print_flags = take_print_config(argv)
            args = self._with_checkpoint_layer(argv)
        try:
            with highlighted_print_config(args if isinstance(args, list) else []):
                self.config = (
                    parser.parse_object(args)
                    if isinstance(args, (dict, Namespace))
                    else parser.parse_args(args)
                )
        except Exception as err:
            if debug_enabled() or isinstance(err, LightkitError):
                raise
            raise translate_argument_error(err, parser, self._only_subcommand, self._argv) from None
        for name in removals:
            self._remove_callback(name)
        if print_flags is not None:
            sub = self._only_subcommand or ""
            text = self._parser(sub).dump(self.config[sub], skip_default="skip_default" in print_flags)
            with highlighted_print_config(["--print_config"]):
                sys.stdout.write(text)
                raise SystemExit(0)
        if show_sources:
            self._print_sources(skip_default)
            raise SystemExit(0)
        self._print_checkpoint_changes()

    def _remove_callback(self, name: str) -> None:
        cfg = self.subcommand_config() or self.config
        callbacks = cfg.get("trainer.callbacks") or []
        kept = [c for c in callbacks if name not in (str(c.get("class_path")), _short(c.get("class_path")))]
        if len(kept) == len(callbacks):
            present = [_short(c.get("class_path")) for c in callbacks]
            raise ConfigError(
                f"--trainer.callbacks-={name}: no callback {name!r} in trainer.callbacks",
                f"callbacks configured: {present}" if present else "no callbacks are configured.",
            )
        cfg["trainer.callbacks"] = kept

    def _print_sources(self, skip_default: bool) -> None:
        from lightkit.cli.provenance import config_layers, flatten, sources

        sub = self._only_subcommand or ""
        parser = self._parser(sub)
        final = flatten(yaml.safe_load(parser.dump(self.config[sub], skip_none=False)))
        ckpt = (
            (str(flag_value(self._argv or [], "--ckpt_path")), self._checkpoint_layer)
            if self._checkpoint_layer
            else None
        )
        rows = sources(final, config_layers((self._argv or [])[1:], sub, ckpt))
        if skip_default:
            rows = [r for r in rows if r.source != "default"]
        print_table(["key", "value", "source"], [[r.key, inline(r.value), r.source] for r in rows])

    def _with_checkpoint_layer(self, argv: list[str]) -> list[str]:
        sub = self._only_subcommand
        value = flag_value(argv, "--ckpt_path")
        if sub is None or not value:
            return argv
        root = flag_value(argv, "--run.root") or RUNS_ROOT
        path = resolve_ckpt_path(value, root, flag_value(argv, "--run.name"))
        self._checkpoint = load_checkpoint(path)
        argv = [a for a in argv]
        for i, arg in enumerate(argv):
            if arg == "--ckpt_path":
                argv[i + 1] = str(path)
            elif arg.startswith("--ckpt_path="):
                argv[i] = f"--ckpt_path={path}"
        stored = checkpoint_config(self._checkpoint)
        if not stored:
            return argv
        layer = yaml.safe_load(stored) or {}
        keep = ("model", "data") if sub != "fit" else tuple(k for k in layer if k not in ("ckpt_path",))
        self._checkpoint_layer = {k: layer[k] for k in keep if k in layer}
        if sub != "fit" and "seed_everything" in layer:
            self._checkpoint_layer["seed_everything"] = layer["seed_everything"]
        if sub == "fit" and (run_dir := run_dir_of(path)) is not None:
            self._checkpoint_layer["run"] = {
                **layer.get("run", {}),
                "name": run_dir.name,
                "root": str(run_dir.parent),
            }
        at = argv.index(sub) + 1
        return [*argv[:at], f"--config={yaml.safe_dump(self._checkpoint_layer, sort_keys=False)}", *argv[at:]]

    def _print_checkpoint_changes(self) -> None:
        if not self._checkpoint_layer or self.subcommand_config() is None:
            return
        from lightkit.cli.provenance import flatten

        before = flatten(self._checkpoint_layer)
        after = flatten(
            yaml.safe_load(self.parser.dump(self.config, skip_none=False)).get(self._only_subcommand, {})
        )
        changed = [(k, v, after.get(k)) for k, v in before.items() if k in after and after[k] != v]
        changed = [c for c in changed if not c[0].startswith("run.")]
        if changed:
            lines = [f"  {k}: {v!r} -> {new!r}" for k, v, new in changed[:10]]
            print("changed against the checkpoint:\n" + "\n".join(lines), file=sys.stderr)

    def subcommand_config(self) -> Namespace | None:
        """The parsed config of the subcommand being run."""
        sub = self.config.get("subcommand") if hasattr(self, "config") else None
        return self.config.get(sub) if sub else None

    def _parse_ckpt_path(self) -> None:
        # A lightkit checkpoint's config is already the lowest layer; plain Lightning checkpoints
        # keep LightningCLI's behaviour of reading the model hyperparameters.
        if self._checkpoint_layer:
            return
        super()._parse_ckpt_path()

    # -- instantiation -------------------------------------------------------------------------------
    def instantiate_classes(self) -> None:
        """Instantiate the data module first, fill the model's data-shape arguments, then the rest."""
        cfg = self.subcommand_config() if self.subcommand else self.config
        self._resolved = copy.deepcopy(cfg)
        if "ckpt_path" in self._resolved:
            self._resolved.ckpt_path = None
        if cfg is not None and cfg.get("data") is not None:
            self.early_datamodule = self._instantiate_datamodule(cfg)
            self._fill_data_shape(cfg, self.early_datamodule)
        super().instantiate_classes()
        if self.early_datamodule is not None:
            self.datamodule = self.early_datamodule

    def _instantiate_datamodule(self, cfg: Namespace) -> LightningDataModule:
        parser = ArgumentParser(exit_on_error=False)
        if self.subclass_mode_data:
            parser.add_subclass_arguments(self._datamodule_class, "data", fail_untyped=False)
        else:
            parser.add_class_arguments(self._datamodule_class, "data", fail_untyped=False)
        datamodule = parser.instantiate(parser.parse_object({"data": cfg.data.clone()})).data
        if self._checkpoint is not None:
            state = self._checkpoint.get(type(datamodule).__qualname__)
            if state and hasattr(datamodule, "load_state_dict"):
                datamodule.load_state_dict(state)
        return datamodule

    def _fill_data_shape(self, cfg: Namespace, datamodule: LightningDataModule) -> None:
        if getattr(datamodule, "data_shape", None) is None:
            return
        model = cfg.get("model")
        if model is None:
            return
        args = model.get("init_args") if self.subclass_mode_model else model
        if args is None:
            return
        shape = datamodule.data_shape
        for key in SHAPE_KEYS:
            if key in args and args[key] is None and shape.get(key) is not None:
                args[key] = shape[key]

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if (
            "weights_only" in self._subcommand_method_arguments.get(subcommand, [])
            and kwargs.get("weights_only") is None
        ):
            kwargs["weights_only"] = not unsafe_load()
        return kwargs

    # -- trainer and run directory ---------------------------------------------------------------------
    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The trainer, with run-directory loggers, checkpoints and progress display added."""
        extra = [self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys]
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        if self.subcommand is not None:
            self._add_run_defaults(config)
        return self._instantiate_trainer(config, extra)

    def _run_options(self) -> RunOptions:
        options = self._get(self.config_init, "run")
        return options if isinstance(options, RunOptions) else RunOptions()

    def _add_run_defaults(self, config: dict[str, Any]) -> None:
        sub = self.subcommand
        options = self._run_options()
        callbacks: list[Callback] = list(config.get("callbacks") or [])
        fast = bool(config.get("fast_dev_run"))
        ckpt = self._get(self.config, "ckpt_path")
        if ckpt and sub != "fit":
            self.run_dir = run_dir_of(Path(ckpt))
        if self.run_dir is None and not fast:
            model_cfg, data_cfg = self._get(self.config, "model"), self._get(self.config, "data")
            model = _short(
                model_cfg.get("class_path") if isinstance(model_cfg, Namespace) else self.model_class
            )
            data = _short(
                data_cfg.get("class_path") if isinstance(data_cfg, Namespace) else self.datamodule_class
            )
            resuming = sub == "fit" and ckpt and options.name
            shared = os.environ.get(_RUN_DIR_ENV)
            if shared and os.environ.get("LOCAL_RANK", "0") != "0":
                # a rank that Lightning's launcher started from rank 0's command: same run directory
                self.run_dir = Path(shared)
            else:
                self.run_dir = (
                    Path(options.root) / options.name
                    if resuming
                    else new_run_dir(options.root, options.name, model, data)
                )
                os.environ[_RUN_DIR_ENV] = str(
                    self.run_dir
                )  # the launcher copies the environment to the ranks
        if self.run_dir is not None and isinstance(config.get("profiler"), str):
            config["profiler"] = _profiler_into(config["profiler"], self.run_dir)
        if sub == "fit" and not fast and self.run_dir is not None:
            if config.get("default_root_dir") is None:
                config["default_root_dir"] = str(self.run_dir)
            if config.get("logger") in (None, True):
                config["logger"] = [
                    RunCSVLogger(str(self.run_dir), name="", version=""),
                    TensorBoardLogger(
                        str(self.run_dir), name="", version="tensorboard", default_hp_metric=False
                    ),
                ]
            if config.get("enable_checkpointing") is not False and not any(
                isinstance(c, ModelCheckpoint) for c in callbacks
            ):
                monitor = getattr(self.model, "monitor", None)
                callbacks.append(
                    ModelCheckpoint(
                        dirpath=str(self.run_dir / "checkpoints"),
                        filename="best",
                        monitor=monitor,
                        mode=getattr(self.model, "monitor_mode", "min"),
                        save_top_k=1 if monitor else 0,
                        save_last=True,
                        auto_insert_metric_name=False,
                        enable_version_counter=False,
                    )
                )
            callbacks.append(RngState())
            callbacks.append(
                SaveOnTerminate()
            )  # SIGTERM: save last.ckpt, exit 143 (lightkit.training.termination)
            if not config.get("plugins"):
                config["plugins"] = [AtomicCheckpointIO()]
            class_paths = [
                str(getattr(c, "class_path", ""))
                for c in (self._get(self.config, "model"), self._get(self.config, "data"))
            ] + [f"{type(c).__module__}.{type(c).__name__}" for c in callbacks]
            seed = self._get(self.config, "seed_everything")
            callbacks.append(
                RunRecorder(self.run_dir, self._resolved_yaml(), versions_record(class_paths, seed))
            )
        elif sub == "fit":
            callbacks.append(RunRecorder(None, self._resolved_yaml(), {}))
        if sub == "predict" and not any(isinstance(c, PredictionWriter) for c in callbacks):
            output = options.output or str((self.run_dir or Path(".")) / "predictions.csv")
            callbacks.append(PredictionWriter(output))
        if config.get("enable_progress_bar") is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            if sys.stdout.isatty():
                callbacks += [RichProgressBar(), RichModelSummary()]
            else:
                config["enable_progress_bar"] = False
                callbacks.append(PlainProgress())
        config["callbacks"] = callbacks

    def _resolved_yaml(self) -> str:
        parser = self._parser(self.subcommand)
        return parser.dump(self._resolved, skip_none=False)

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        if self.subcommand is not None and self.save_config_callback is SaveConfigCallback:
            # lightkit's RunRecorder writes the config into the run directory (fit only, resolved,
            # with ckpt_path cleared so that rerunning it starts afresh).
            self.save_config_callback = None
        return super()._instantiate_trainer(config, callbacks)

    # -- reporting -----------------------------------------------------------------------------------------
    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except LightkitError as err:
            if debug_enabled():
                raise
            raise SystemExit(print_error(err)) from None

    def after_fit(self) -> None:
        """Say where the run directory and checkpoints are."""
        if self.run_dir is None or not self.trainer.is_global_zero:
            return
        best = self.trainer.checkpoint_callback.best_model_path if self.trainer.checkpoint_callback else ""
        print(f"run directory: {self.run_dir}", file=sys.stderr)
        if best:
            print(f"best checkpoint: {best}", file=sys.stderr)
        profiler = self.trainer.profiler
        if getattr(profiler, "dirpath", None) and getattr(profiler, "filename", None):
            for report in sorted(Path(profiler.dirpath).glob(f"fit-{profiler.filename}*.txt")):
                print(f"profiler report: {report}", file=sys.stderr)

    def after_predict(self) -> None:
        """Say where the predictions were written."""
        for callback in self.trainer.callbacks:
            if isinstance(callback, PredictionWriter) and callback.written_path is not None:
                print(f"predictions written to {callback.written_path}", file=sys.stderr)
