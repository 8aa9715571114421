"""``load_run()``: a trained run rebuilt from its checkpoint, in one call.

A lightkit checkpoint carries the run's resolved config and the data module's fitted state
(preprocessing, label names, the fold), so a model, its data module and its config come back from
the file alone, with nothing retyped::

    import lightkit

    run = lightkit.load_run("runs/wine")            # or a .ckpt file, "best", "last"
    run.model                                       # the LightningModule, weights loaded, in eval mode
    run.datamodule                                  # the data module, fitted preprocessing restored
    run.config["model"]["init_args"]["lr"]          # the resolved config, as plain data

The checkpoint is read once. ``lightkit predict``, ``test`` and ``validate`` rebuild runs with
the same pieces (:func:`open_checkpoint`, :func:`build_datamodule`, :func:`fill_data_shape`), and
serving and export load runs through :func:`load_run`.

Checkpoints written by a plain ``LightningCLI`` script load too: their model comes back from the
hyperparameters Lightning stores (``_class_path`` and the init arguments).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightkit.checkpoints import (
    CONFIG_KEY,
    checkpoint_config,
    explain_state_dict_mismatch,
    load_checkpoint,
    resolve_ckpt_path,
    run_dir_of,
)
from lightkit.data.shape import SHAPE_KEYS
from lightkit.errors import CheckpointError, ConfigError
from lightkit.runs import RUNS_ROOT

if TYPE_CHECKING:
    from lightning.pytorch import LightningDataModule, LightningModule

__all__ = [
    "OpenedCheckpoint",
    "Run",
    "build_datamodule",
    "build_model",
    "fill_data_shape",
    "load_run",
    "open_checkpoint",
]


@dataclass
class OpenedCheckpoint:
    """A checkpoint file found from ``--ckpt_path`` (or :func:`load_run`'s ``path``) and read once.

    Attributes:
        path: The checkpoint file.
        checkpoint: Its contents (weights-only loaded, on the CPU).
        config: The run's resolved config as plain data; ``{}`` when the file has none.
        run_dir: The run directory the file lives in, if it does.
    """

    path: Path
    checkpoint: dict[str, Any]
    config: dict[str, Any]
    run_dir: Path | None

    def model_config(self) -> dict[str, Any]:
        """The ``model`` section as ``{class_path, init_args}``; raises CheckpointError when none is recorded."""
        return _model_config(self)

    def data_config(self) -> dict[str, Any] | None:
        """The ``data`` section as ``{class_path, init_args}``, or ``None`` when nothing records one."""
        return _data_config(self)

    @property
    def classes(self) -> dict[str, str]:
        """Class paths of the model and data module that wrote the checkpoint, where recorded."""
        record = self.checkpoint.get(CONFIG_KEY)
        classes = record.get("classes") if isinstance(record, dict) else None
        return dict(classes) if isinstance(classes, dict) else {}


def open_checkpoint(value: str | Path, root: str | Path = RUNS_ROOT, name: str | None = None) -> OpenedCheckpoint:
    """Find and read a checkpoint: a ``.ckpt`` file, a run directory, ``best`` or ``last``.

    Args:
        value: What ``--ckpt_path`` accepts.
        root: Where ``best``/``last`` look for runs (``trainer.default_root_dir``).
        name: The run ``best``/``last`` refer to; by default the latest run under ``root``.

    Raises:
        CheckpointError: Nothing found there, or the file is not a loadable checkpoint.
    """
    path = resolve_ckpt_path(str(value), root, name)
    checkpoint = load_checkpoint(path)
    text = checkpoint_config(checkpoint)
    config = _stored_config(text, path) if text else None
    return OpenedCheckpoint(
        path=path,
        checkpoint=checkpoint,
        config=config if isinstance(config, dict) else {},
        run_dir=run_dir_of(path),
    )


def _stored_config(text: str, path: Path) -> Any:
    """The config stored in a checkpoint, read with the config loader's bounds (lightkit.config_yaml)."""
    from lightkit.config_yaml import load_yaml

    try:
        return load_yaml(text, f"the config stored in {str(path)!r}")
    except ConfigError as err:
        hint = "the checkpoint's config is damaged or hostile; nothing in it was used."
        raise CheckpointError(err.message, hint) from None


def _component_parser(base: type, key: str, subclass_mode: bool) -> Any:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    if subclass_mode:
        parser.add_subclass_arguments(base, key, fail_untyped=False)
    else:
        parser.add_class_arguments(base, key, fail_untyped=False)
    return parser


def build_datamodule(
    config: Any, datamodule_class: type | None = None, checkpoint: dict[str, Any] | None = None
) -> LightningDataModule:
    """Instantiate a data module from its config and restore its fitted state from ``checkpoint``.

    Args:
        config: The ``data`` section: ``{class_path, init_args}``, or the init arguments of
            ``datamodule_class``.
        datamodule_class: The class when ``config`` holds init arguments only; in subclass mode,
            the base class.
        checkpoint: A loaded checkpoint; the data module's ``state_dict`` (preprocessing, ...)
            is restored from it.
    """
    from jsonargparse import Namespace
    from lightning.pytorch import LightningDataModule

    data = config.clone() if isinstance(config, Namespace) else copy.deepcopy(config)
    subclass_mode = datamodule_class is None or (isinstance(data, (dict, Namespace)) and "class_path" in data)
    parser = _component_parser(datamodule_class or LightningDataModule, "data", subclass_mode)
    datamodule = parser.instantiate_classes(parser.parse_object({"data": data})).data
    if checkpoint is not None:
        state = checkpoint.get(type(datamodule).__qualname__)
        if state and hasattr(datamodule, "load_state_dict"):
            datamodule.load_state_dict(state)
    return datamodule


def fill_data_shape(model_args: Any, datamodule: Any) -> None:
    """Fill the model arguments named like the data-shape keys that were left unset.

    Args:
        model_args: The model's init arguments (a dict or jsonargparse Namespace), changed in place.
        datamodule: Anything with a ``data_shape`` mapping (see :mod:`lightkit.data.shape`).
    """
    shape = getattr(datamodule, "data_shape", None)
    if shape is None or model_args is None:
        return
    for key in SHAPE_KEYS:
        if key in model_args and model_args[key] is None and shape.get(key) is not None:
            model_args[key] = shape[key]


def build_model(config: Any, model_class: type | None = None) -> LightningModule:
    """Instantiate a model from its config (``{class_path, init_args}`` or init arguments)."""
    from lightning.pytorch import LightningModule

    subclass_mode = model_class is None or (isinstance(config, dict) and "class_path" in config)
    parser = _component_parser(model_class or LightningModule, "model", subclass_mode)
    return parser.instantiate_classes(parser.parse_object({"model": config})).model


def _section(opened: OpenedCheckpoint, key: str, hparams_key: str) -> dict[str, Any] | None:
    """``model`` or ``data`` as ``{class_path, init_args}``: from lightkit's record (a script's
    config holds init arguments only, with the class recorded beside it), else from the
    hyperparameters Lightning stores (``_class_path`` and the init arguments)."""
    section = opened.config.get(key)
    if isinstance(section, dict) and "class_path" in section:
        return copy.deepcopy(section)
    class_path = opened.classes.get(key)
    if isinstance(section, dict) and class_path:
        return {"class_path": class_path, "init_args": copy.deepcopy(section)}
    hparams = dict(opened.checkpoint.get(hparams_key) or {})
    hparams.pop("_instantiator", None)
    class_path = hparams.pop("_class_path", None) or class_path
    return {"class_path": class_path, "init_args": hparams} if class_path else None


def _model_config(opened: OpenedCheckpoint) -> dict[str, Any]:
    model = _section(opened, "model", "hyper_parameters")
    if model is None:
        raise CheckpointError(
            f"checkpoint {str(opened.path)!r} does not say which model wrote it",
            "it has no lightkit config and no '_class_path' hyperparameter (LightningCLI stores one when "
            "the model calls save_hyperparameters()); give --model NAME with the model's arguments.",
        )
    return model


def _data_config(opened: OpenedCheckpoint) -> dict[str, Any] | None:
    return _section(opened, "data", "datamodule_hyper_parameters")


@dataclass
class Run:
    """A trained run, rebuilt: what :func:`load_run` returns.

    Attributes:
        model: The model with the checkpoint's weights, in eval mode.
        datamodule: The data module with its fitted state restored, or ``None`` when the run had none.
        config: The resolved config (``model``, ``data``, ``trainer``, ...) as plain data, with the
            data-shape arguments the data module filled in.
        checkpoint_path: The checkpoint file that was loaded.
        run_dir: The run directory, when the checkpoint lives in one.
        checkpoint: The loaded checkpoint dictionary (epoch, global step, callback states, ...).
    """

    model: LightningModule
    datamodule: LightningDataModule | None
    config: dict[str, Any]
    checkpoint_path: Path
    run_dir: Path | None
    checkpoint: dict[str, Any] = field(repr=False)

    @property
    def epoch(self) -> int | None:
        """The epoch the checkpoint was written in (0-based), if recorded."""
        return self.checkpoint.get("epoch")

    @property
    def global_step(self) -> int | None:
        """The optimizer step count at the checkpoint, if recorded."""
        return self.checkpoint.get("global_step")


def load_run(
    path: str | Path,
    *,
    root: str | Path = RUNS_ROOT,
    name: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> Run:
    """Rebuild a trained run: its model (weights loaded, eval mode), data module and config.

    Args:
        path: A checkpoint file, a run directory, or ``best`` / ``last`` (of the run ``name``, else
            the latest run under ``root``).
        root: Where ``best``/``last`` look for runs.
        name: The run that ``best``/``last`` refer to.
        overrides: Init arguments to change, as ``{"data": {"path": "new.csv"}}``; the
            architecture must stay the same for the weights to fit.

    Raises:
        CheckpointError: No checkpoint there, it cannot be loaded, or its weights do not fit the model.
        ConfigError: The stored config no longer builds (a plugin was removed, say).
    """
    from lightkit.cli.shortnames import install_resolver
    from lightkit.trust import apply_import_policy

    install_resolver()
    apply_import_policy()
    opened = open_checkpoint(path, root, name)
    config = copy.deepcopy(opened.config)
    data_cfg = opened.data_config()
    model_cfg = opened.model_config()
    for key, section in (("data", data_cfg), ("model", model_cfg)):
        changes = (overrides or {}).get(key)
        if changes and section is not None:
            section.setdefault("init_args", {}).update(changes)
    datamodule = None
    try:
        if data_cfg is not None:
            datamodule = build_datamodule(data_cfg, checkpoint=opened.checkpoint)
            fill_data_shape(model_cfg.setdefault("init_args", {}), datamodule)
        model = build_model(model_cfg)
    except (CheckpointError, ConfigError):
        raise
    except Exception as err:  # jsonargparse reports bad or missing classes as many types
        raise ConfigError(
            f"the config stored in {str(opened.path)!r} no longer builds: {str(err).splitlines()[0][:200]}",
            "is the plugin that trained it installed? `lightkit plugins list` shows what is.",
        ) from None
    try:
        model.load_state_dict(opened.checkpoint["state_dict"])
    except RuntimeError as err:
        raise explain_state_dict_mismatch(str(err), str(opened.path)) from None
    model.eval()
    config["model"] = model_cfg
    if data_cfg is not None:
        config["data"] = data_cfg
    return Run(
        model=model,
        datamodule=datamodule,
        config=config,
        checkpoint_path=opened.path,
        run_dir=opened.run_dir,
        checkpoint=opened.checkpoint,
    )
