"""The private parts of Lightning and jsonargparse that lightkit relies on, pinned.

Each has no public alternative (the comment at its use says why). If an upgrade changes one,
the test here fails with the name of the piece, before a user meets a stranger failure.
"""

from __future__ import annotations

import inspect

import jsonargparse._parameter_resolvers as parameter_resolvers
import jsonargparse._typehints as typehints
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers.csv_logs import ExperimentWriter


def test_lightning_cli_reads_ckpt_path_hparams_in_a_private_step_after_parsing():
    """lightkit.cli.lightkit_cli overrides ``_parse_ckpt_path`` (skipped for lightkit checkpoints)."""
    init = inspect.getsource(LightningCLI.__init__)
    assert init.index("self.parse_arguments(") < init.index("self._parse_ckpt_path()")
    assert "hyper_parameters" in inspect.getsource(LightningCLI._parse_ckpt_path)


def test_lightning_cli_private_helpers_lightkit_calls_keep_their_shape():
    """``_get``, ``_parser``, ``_instantiate_trainer`` and ``_datamodule_class`` are used, not overridden."""
    assert list(inspect.signature(LightningCLI._get).parameters) == ["self", "config", "key", "default"]
    assert list(inspect.signature(LightningCLI._parser).parameters) == ["self", "subcommand"]
    assert list(inspect.signature(LightningCLI._instantiate_trainer).parameters) == ["self", "config", "callbacks"]
    assert "self._datamodule_class = datamodule_class or LightningDataModule" in inspect.getsource(
        LightningCLI.__init__
    )


def test_csv_experiment_writer_deletes_old_metrics_in_a_private_check():
    """lightkit.training.resume overrides ``_check_log_dir_exists`` so that a resumed run appends."""
    init = inspect.getsource(ExperimentWriter.__mro__[1].__init__)
    assert "self._check_log_dir_exists()" in init
    assert "rm_file(self.metrics_file_path)" in inspect.getsource(ExperimentWriter._check_log_dir_exists)


def test_jsonargparse_maps_bare_class_names_through_one_function():
    """lightkit.cli.shortnames wraps ``resolve_class_path_by_name`` for registered plugin names."""
    assert list(inspect.signature(typehints.resolve_class_path_by_name).parameters) == ["cls", "name"]
    source = inspect.getsource(typehints)
    assert source.count("resolve_class_path_by_name(") >= 2  # defined, and called by the resolver


def test_jsonargparse_helpers_for_messages_and_signatures_exist():
    """``get_all_subclass_paths`` (did-you-mean lists) and ``get_signature_parameters`` (plugin docs)."""
    assert callable(typehints.get_all_subclass_paths)
    assert callable(parameter_resolvers.get_signature_parameters)
