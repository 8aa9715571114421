"""TensorBatchLoader: the fast in-memory batch path, usable in any data module."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from lightkit import InMemoryDataModule, TensorBatchLoader
from lightkit.errors import ConfigError


def table(rows: int = 10) -> dict[str, torch.Tensor]:
    return {"x": torch.arange(rows * 2, dtype=torch.float32).reshape(rows, 2), "y": torch.arange(rows)}


def epoch_rows(loader: TensorBatchLoader) -> list[int]:
    return [int(i) for batch in loader for i in batch["y"]]


def test_batches_are_dicts_of_rows_that_stay_together():
    for batch in TensorBatchLoader(table(), batch_size=4, shuffle=True, seed=1):
        assert set(batch) == {"x", "y"}
        assert torch.equal(batch["x"][:, 0], batch["y"].float() * 2)


def test_shuffled_epoch_is_a_permutation_of_every_row():
    rows = epoch_rows(TensorBatchLoader(table(23), batch_size=5, shuffle=True, seed=0))
    assert sorted(rows) == list(range(23))
    assert rows != list(range(23))


def test_the_order_of_an_epoch_depends_on_seed_and_epoch_only():
    first = TensorBatchLoader(table(50), batch_size=8, shuffle=True, seed=7)
    epochs = [epoch_rows(first) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2]
    # a new loader (a resumed run) at epoch 2 sees exactly the batches of the first loader's epoch 2
    resumed = TensorBatchLoader(table(50), batch_size=8, shuffle=True, seed=7, epoch_fn=lambda: 2)
    assert epoch_rows(resumed) == epochs[2]
    other_seed = TensorBatchLoader(table(50), batch_size=8, shuffle=True, seed=8, epoch_fn=lambda: 2)
    assert epoch_rows(other_seed) != epochs[2]


def test_epoch_fn_sets_the_epoch_instead_of_counting_iterations():
    epoch = {"value": 0}
    loader = TensorBatchLoader(
        table(30), batch_size=30, shuffle=True, seed=3, epoch_fn=lambda: epoch["value"]
    )
    assert epoch_rows(loader) == epoch_rows(loader)  # same epoch, same order
    epoch["value"] = 1
    assert epoch_rows(loader) == epoch_rows(
        TensorBatchLoader(table(30), batch_size=30, shuffle=True, seed=3, epoch_fn=lambda: 1)
    )


def test_without_shuffle_batches_are_zero_copy_views_in_order():
    data = table(10)
    loader = TensorBatchLoader(data, batch_size=4)
    batches = list(loader)
    assert [len(b["y"]) for b in batches] == [4, 4, 2]
    assert epoch_rows(loader) == list(range(10))
    for batch in batches:
        assert batch["x"].untyped_storage().data_ptr() == data["x"].untyped_storage().data_ptr()


def test_drop_last_drops_only_the_smaller_last_batch():
    loader = TensorBatchLoader(table(10), batch_size=4, shuffle=True, drop_last=True)
    assert len(loader) == 2
    assert [len(b["y"]) for b in loader] == [4, 4]
    assert len(TensorBatchLoader(table(8), batch_size=4, drop_last=True)) == 2
    assert len(TensorBatchLoader(table(10), batch_size=4)) == 3


@pytest.mark.parametrize("rows", [1, 3, 10, 11, 12])
@pytest.mark.parametrize("world_size", [2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_ranks_get_equal_shards_that_cover_every_row_once_apart_from_padding(rows, world_size, shuffle):
    shards = [
        epoch_rows(
            TensorBatchLoader(
                table(rows), batch_size=2, shuffle=shuffle, seed=5, rank=r, world_size=world_size
            )
        )
        for r in range(world_size)
    ]
    per_rank = -(-rows // world_size)
    assert [len(s) for s in shards] == [per_rank] * world_size
    everything = [i for shard in shards for i in shard]
    assert set(everything) == set(range(rows))
    assert len(everything) - rows == per_rank * world_size - rows  # only the padding repeats rows
    loaders = [
        TensorBatchLoader(table(rows), batch_size=2, rank=r, world_size=world_size) for r in range(world_size)
    ]
    assert len({len(loader) for loader in loaders}) == 1  # same number of steps on every rank


def test_ranks_agree_on_the_shuffle_so_shards_are_disjoint():
    shards = [
        set(
            epoch_rows(TensorBatchLoader(table(40), batch_size=3, shuffle=True, seed=2, rank=r, world_size=4))
        )
        for r in range(4)
    ]
    assert sum(len(s) for s in shards) == 40
    assert set().union(*shards) == set(range(40))


def test_empty_tensors_give_no_batches():
    loader = TensorBatchLoader({"x": torch.empty(0, 3)}, batch_size=4, shuffle=True)
    assert len(loader) == 0
    assert list(loader) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"batch_size": 2, "rank": 2, "world_size": 2}, "rank must be in [0, world_size)"),
    ],
)
def test_bad_arguments_are_refused_with_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        TensorBatchLoader(table(4), **kwargs)


def test_tensors_of_different_lengths_are_refused_naming_them():
    with pytest.raises(ValueError, match=r"same number of rows, got \{'x': 4, 'y': 3\}"):
        TensorBatchLoader({"x": torch.zeros(4, 2), "y": torch.zeros(3)}, batch_size=2)


# -- InMemoryDataModule: the same path, as a data-module base for plugin authors -----------------


class Squares(InMemoryDataModule):
    """A plugin author's data module: only build_splits is written."""

    def build_splits(self, stage):
        x = torch.linspace(-1, 1, 64).reshape(-1, 1)
        return {"train": {"x": x, "y": x**2}, "val": {"x": x[:16], "y": x[:16] ** 2}}


class Regressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(1, 1)
        self.seen: list[tuple[int, list[float]]] = []

    def training_step(self, batch, batch_idx):
        self.seen.append((self.current_epoch, batch["x"].reshape(-1).tolist()))
        return torch.nn.functional.mse_loss(self.net(batch["x"]), batch["y"])

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch["x"]), batch["y"]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_in_memory_data_module_serves_dict_batches_to_a_trainer_and_reshuffles_every_epoch(tmp_path):
    data, model = Squares(batch_size=16, seed=3), Regressor()
    trainer = pl.Trainer(
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=data)
    epochs = [[x for epoch, xs in model.seen if epoch == e for x in xs] for e in (0, 1)]
    assert len(epochs[0]) == len(epochs[1]) == 64
    assert sorted(epochs[0]) == sorted(epochs[1]) and epochs[0] != epochs[1]
    assert len(data.val_dataloader()) == 1  # evaluation batches default to 4 x batch_size
    assert isinstance(data.train_dataloader(), TensorBatchLoader)


def test_batch_size_below_one_is_a_config_error():
    with pytest.raises(ConfigError, match="data.batch_size must be at least 1, got 0"):
        Squares(batch_size=0)
    with pytest.raises(ConfigError, match="data.eval_batch_size must be at least 1, got -1"):
        Squares(eval_batch_size=-1)
