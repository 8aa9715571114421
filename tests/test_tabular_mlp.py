"""TabularMLP's own choices: what they change in training, and what they must not."""

from __future__ import annotations

import copy

import torch

from lightkit.components.tabular_mlp import TabularMLP


def _train(model: TabularMLP, optimizer: torch.optim.Optimizer, steps: int = 25) -> TabularMLP:
    torch.manual_seed(3)  # the same batches and dropout masks for every optimizer
    for _ in range(steps):
        x, y = torch.randn(64, 6), (torch.rand(64, 1) > 0.5).float()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model


def test_the_default_optimizer_is_adamw_with_the_fast_update_and_the_same_arithmetic():
    model = TabularMLP(task="binary", num_features=6, num_outputs=1, lr=0.01, weight_decay=0.05)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["foreach"] is True  # one multi-tensor call per step, not a loop
    assert optimizer.defaults["lr"] == 0.01 and optimizer.defaults["weight_decay"] == 0.05
    plain, untrained = copy.deepcopy(model), copy.deepcopy(model)
    fast = _train(model, optimizer)
    reference = _train(plain, torch.optim.AdamW(plain.parameters(), lr=0.01, weight_decay=0.05))
    for (name, a), b in zip(fast.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name  # bit for bit, not merely close
    assert not torch.equal(fast.net[0].weight, untrained.net[0].weight)  # it did train


def test_an_epochs_kept_predictions_are_every_batch_in_order_whatever_the_sizes():
    from lightkit.components.tabular_mlp import _Epoch

    epoch, seen, labels = _Epoch(), [], []
    assert epoch.kept() is None
    generator = torch.Generator().manual_seed(0)
    for rows in [3, 1, 7, *([5] * 300), 2]:  # the buffer outgrows its first size several times
        p, y = torch.rand(rows, 4, generator=generator), torch.randint(0, 4, (rows,), generator=generator)
        epoch.keep(p, y)
        seen.append(p)
        labels.append(y)
    predictions, targets = epoch.kept()
    assert torch.equal(predictions, torch.cat(seen)) and torch.equal(targets, torch.cat(labels))
    assert predictions.dtype == torch.float32 and targets.dtype == torch.int64
    epoch.reset()
    assert epoch.kept() is None
