"""The conformance kit: every built-in passes it, and a plugin that breaks the rules is told what to fix."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lightkit import registry
from lightkit.testing import CHECKS, ConformanceError, check_plugin


@pytest.mark.parametrize(
    ("name", "pairing"),
    [
        ("TabularMLP", {"data": "SklearnDataModule"}),
        ("SklearnDataModule", {"model": "TabularMLP", "args": ["--data.dataset", "breast_cancer"]}),
        (
            "CSVDataModule",
            {
                "model": "TabularMLP",
                "args": [
                    "--data.path",
                    "{churn}",
                    "--data.target",
                    "churned",
                    "--data.id_column",
                    "customer_id",
                ],
            },
        ),
        (
            "PredictionWriter",
            {
                "model": "TabularMLP",
                "data": "SklearnDataModule",
                "args": ["--trainer.callbacks.output_path", "{tmp}/p.csv"],
            },
        ),
    ],
)
def test_builtin_component_passes_the_kit(name, pairing, tmp_path: Path):
    from conftest import CONFIGS

    pairing = dict(pairing)
    pairing["args"] = [
        a.format(churn=CONFIGS / "data" / "churn.csv", tmp=tmp_path) for a in pairing.get("args", [])
    ]
    report = check_plugin(name, **pairing)
    assert [r.check for r in report.results] == list(CHECKS)
    assert all(r.status == "pass" for r in report.results), str(report)


BAD_PLUGIN = '''
"""Plugins that break the rules, for the conformance kit's own tests."""
import time

import lightning.pytorch as pl
import torch
from torch import nn

time.sleep(0.5)  # work at import time


class ForgetfulModel(pl.LightningModule):
    """A model whose predictions depend on state that checkpoints do not keep.

    Args:
        num_features: Input width. Set from the data module.
    """

    def __init__(self, num_features: int | None = None, num_outputs: int | None = None, width=8):
        super().__init__()
        self.net = nn.Linear(num_features, num_outputs)
        self.offset = 0.0  # a plain attribute: lost in checkpoints

    def training_step(self, batch, batch_idx):
        self.offset += 1.0
        return nn.functional.cross_entropy(self.net(batch["x"]), batch["y"])

    def validation_step(self, batch, batch_idx):
        pass

    def predict_step(self, batch, batch_idx):
        return self.net(batch["x"]) + self.offset

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def not_a_class():
    """An entry point that names a function."""
'''


@pytest.fixture
def bad_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A distribution 'kit-bad' installed on sys.path, the way pip would lay it out."""
    site = tmp_path / "site"
    (site / "kitbad").mkdir(parents=True)
    (site / "kitbad" / "__init__.py").write_text(BAD_PLUGIN)
    info = site / "kit_bad-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kit-bad\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[lightkit.models]\nForgetfulModel = kitbad:ForgetfulModel\nNotAModel = kitbad:not_a_class\n"
    )
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    yield "kitbad"
    monkeypatch.undo()
    sys.modules.pop("kitbad", None)
    registry.refresh()


def test_failures_say_what_to_fix(bad_plugin):
    with pytest.raises(ConformanceError) as info:
        check_plugin(
            "ForgetfulModel",
            data="SklearnDataModule",
            checks=["init-args", "checkpoint", "import-time"],
            import_budget_s=0.2,
        )
    report, message = info.value.report, str(info.value)
    assert [r.status for r in report.results] == ["pass", "fail", "fail", "fail"]
    assert "'width' has no type hint" in message and "'num_outputs' is not documented" in message
    assert "`Args:`" in message
    assert "the checkpoint predicts differently from the model in memory" in message
    assert "save_hyperparameters" in message
    assert (
        "kitbad imports in" in message
        and "budget 0.2 s" in message
        and "do no work at import time" in message
    )


def test_a_plugin_of_the_wrong_kind_fails_the_entry_point_check(bad_plugin):
    report = check_plugin("NotAModel", data="SklearnDataModule", raise_on_failure=False)
    assert not report.ok
    entry = report.result("entry-point")
    assert entry.status == "fail" and "not a LightningModule subclass" in entry.summary
    assert {r.status for r in report.results[1:]} == {"skip"}


def test_an_unregistered_name_gets_the_closest_names_and_how_to_register():
    report = check_plugin("TabularMPL", data="SklearnDataModule", raise_on_failure=False)
    entry = report.result("entry-point")
    assert "unknown model 'TabularMPL'" in entry.summary and "TabularMLP" in "\n".join(entry.details)
    assert "lightkit.models" in entry.fix and "pip install" in entry.fix


def test_a_model_needs_a_data_module_to_pair_with():
    with pytest.raises(ValueError, match=r'check_plugin\(.TabularMLP., data="YourDataModule"\)'):
        check_plugin("TabularMLP", checks=["init-args"])


def test_a_fast_dev_run_failure_shows_the_command_and_the_error(tmp_path: Path):
    report = check_plugin(
        "CSVDataModule",
        model="TabularMLP",
        args=["--data.path", str(tmp_path / "missing.csv"), "--data.target", "y"],
        checks=["fast-dev-run"],
        raise_on_failure=False,
    )
    result = report.result("fast-dev-run")
    assert result.status == "fail"
    assert any(
        line.startswith("$ lightkit fit --model TabularMLP --data CSVDataModule") for line in result.details
    )
    assert any("does not exist" in line for line in result.details)
