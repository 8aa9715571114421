"""The reference for start-up: a plain LightningCLI script, as its documentation writes one.

``python benchmarks/plain_cli.py fit --help`` and ``python benchmarks/plain_cli.py fit --model
lightkit.components.tabular_mlp.TabularMLP --data lightkit.components.sklearn_data.SklearnDataModule
--print_config`` are what ``lightkit fit --help`` and ``lightkit fit --model TabularMLP --data
SklearnDataModule --print_config`` are compared with.
"""

from lightning.pytorch.cli import LightningCLI

if __name__ == "__main__":
    LightningCLI()
