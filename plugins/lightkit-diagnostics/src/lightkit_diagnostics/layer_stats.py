"""``LayerStatsMonitor``: per-layer gradient and activation statistics, for training health."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from lightkit import ConfigError
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn

__all__ = ["LayerStatsMonitor"]


class LayerStatsMonitor(pl.Callback):
    """Logs gradient and activation statistics of every layer, to check initialisation and training health.

    Every ``every_n_steps`` training steps (and at the first), for each watched layer, it logs to
    every logger of the trainer (the run's metrics.csv and TensorBoard under lightkit):

    * ``<prefix>/<layer>/grad_norm``, ``grad_std``, ``grad_abs_max``: the gradient of the layer's
      own parameters after backward. Norms that shrink towards zero from the output layer back
      to the input layer mean vanishing gradients; norms that grow by orders of magnitude mean
      exploding ones.
    * ``<prefix>/<layer>/act_mean``, ``act_std``, ``act_zero_fraction``: the layer's output in
      that step's forward pass. A standard deviation that collapses layer after layer points to a
      poor initialisation; a zero fraction near 1 after a ReLU means dead units.

    Statistics are computed only on the steps that log, so the cost on other steps is nil.

    Args:
        every_n_steps: Log every this many training steps.
        layer_types: Class names of the layers to watch, such as ``[Linear, Conv2d]``; by default
            every layer that has parameters of its own.
        gradients: Log gradient statistics.
        activations: Log activation statistics.
        prefix: First part of every logged name.
    """

    def __init__(
        self,
        every_n_steps: int = 50,
        layer_types: list[str] | None = None,
        gradients: bool = True,
        activations: bool = True,
        prefix: str = "layers",
    ) -> None:
        if every_n_steps < 1:
            raise ConfigError(f"every_n_steps of LayerStatsMonitor must be at least 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.layer_types = layer_types
        self.gradients = gradients
        self.activations = activations
        self.prefix = prefix
        self._layers: dict[str, nn.Module] = {}
        self._handles: list[Any] = []
        self._stats: dict[str, Tensor] = {}
        self._due = False
        self._step = 0

    # -- which layers ----------------------------------------------------------------------------------
    def _select(self, pl_module: pl.LightningModule) -> dict[str, nn.Module]:
        owning = {
            name or "model": module
            for name, module in pl_module.named_modules()
            if next(module.parameters(recurse=False), None) is not None
        }
        if self.layer_types is None:
            return owning
        wanted = set(self.layer_types)
        chosen = {name: m for name, m in pl_module.named_modules() if type(m).__name__ in wanted}
        if not chosen:
            present = sorted({type(m).__name__ for m in owning.values()})
            raise ConfigError(
                f"LayerStatsMonitor: no layer of types {sorted(wanted)} (from layer_types) in "
                f"{type(pl_module).__name__}",
                f"its layers with parameters are of types {present}.",
            )
        return chosen

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Choose the layers and hook their forward passes."""
        if stage != "fit":
            return
        if not trainer.loggers:
            rank_zero_warn("LayerStatsMonitor: the trainer has no logger, so no statistics are recorded.")
        self._layers = self._select(pl_module)
        if self.activations:
            for name, module in self._layers.items():
                self._handles.append(module.register_forward_hook(self._activation_hook(name)))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    # -- gathering -----------------------------------------------------------------------------------
    def _activation_hook(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not (self._due and module.training):
                return
            out = output[0] if isinstance(output, (tuple, list)) and output else output
            if isinstance(out, Tensor) and out.is_floating_point() and out.numel():
                with torch.no_grad():
                    values = out.detach().float()
                    key = f"{self.prefix}/{name}"
                    self._stats[f"{key}/act_mean"] = values.mean()
                    self._stats[f"{key}/act_std"] = (
                        values.std() if values.numel() > 1 else values.new_zeros(())
                    )
                    self._stats[f"{key}/act_zero_fraction"] = (values == 0).float().mean()

        return hook

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Decide whether this step logs."""
        self._step = trainer.global_step
        self._due = self._step % self.every_n_steps == 0
        self._stats = {}

    def on_after_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Gradient statistics of each watched layer's own parameters."""
        if not (self._due and self.gradients):
            return
        with torch.no_grad():
            for name, module in self._layers.items():
                grads = [
                    p.grad.detach().float().flatten()
                    for p in module.parameters(recurse=False)
                    if p.grad is not None
                ]
                if not grads:
                    continue
                flat = torch.cat(grads)
                key = f"{self.prefix}/{name}"
                self._stats[f"{key}/grad_norm"] = flat.norm()
                self._stats[f"{key}/grad_std"] = flat.std() if flat.numel() > 1 else flat.new_zeros(())
                self._stats[f"{key}/grad_abs_max"] = flat.abs().max()

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Send the step's statistics to every logger."""
        if not (self._due and self._stats):
            return
        metrics = {key: float(value) for key, value in sorted(self._stats.items())}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=self._step)
        self._stats = {}
        self._due = False
