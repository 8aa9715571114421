"""What Lightning alone costs with lightkit's model and loader: a bare ``Trainer``, no run directory.

``TabularMLP`` and ``CSVDataModule`` (its ``TensorBatchLoader``) exactly as ``lightkit fit`` builds
them, trained by a ``Trainer`` with no loggers, checkpoints, progress display, model summary or
lightkit callbacks. Its time is the floor of any Lightning-based tool for this model: beside
``lightkit fit`` it prices lightkit's run directory (records, checkpoints, loggers, exact resume,
signal handling), beside plain Lightning it shows what the model and the loader gain.

Usage: ``python benchmarks/bare_trainer.py fit CSV --epochs E --batch-size B --val-fraction F``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightning.pytorch as pl

# appended, not prepended: the runner puts its snapshot of lightkit first on PYTHONPATH
sys.path.append(str(Path(__file__).resolve().parent.parent))

from benchmarks.stopwatch import Stopwatch  # noqa: E402
from lightkit.components.csv_data import CSVDataModule  # noqa: E402
from lightkit.components.tabular_mlp import TabularMLP  # noqa: E402


def fit(args: argparse.Namespace) -> None:
    pl.seed_everything(args.seed, verbose=False)
    data = CSVDataModule(
        path=str(args.csv),
        target="y",
        val_fraction=args.val_fraction,
        test_fraction=0.0,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    shape = {name: value for name, value in data.data_shape.items() if value is not None}
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Stopwatch()],
        default_root_dir=str(args.root),
    )
    trainer.fit(TabularMLP(**shape), datamodule=data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["fit"])
    parser.add_argument("csv", type=Path)
    parser.add_argument("root", type=Path, help="the trainer's default_root_dir (nothing is written there)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=42)
    fit(parser.parse_args())


if __name__ == "__main__":
    main()
