"""The shared base of the image data modules: split, standardisation, shape and prediction columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from lightkit import DataError, InMemoryDataModule
from lightkit.errors import ConfigError
from sklearn.model_selection import train_test_split
from torch import Tensor

__all__ = ["ImageDataModule", "Images"]


@dataclass
class Images:
    """Images held in memory.

    Attributes:
        pixels: Float array ``[N, C, H, W]`` with values in ``[0, 1]``.
        ids: One identifier per image (row number or file name), kept in prediction files.
        labels: Class index per image, or ``None`` for unlabelled images.
        classes: Class names, in index order (labelled images only).
    """

    pixels: np.ndarray
    ids: list[Any]
    labels: np.ndarray | None = None
    classes: list[str] | None = None


class ImageDataModule(InMemoryDataModule):
    """Base for image classification data that fits in memory.

    Subclasses implement :meth:`read_labelled` and, to predict on other images than the test
    split, :meth:`read_predict`. This base splits the labelled images (stratified, seeded),
    standardises each channel with the train split's mean and standard deviation, exposes
    ``data_shape`` (``task``, ``num_outputs``, ``input_shape``) and writes prediction files.
    The class names and the standardisation travel with checkpoints. Batches are dicts
    ``{"x": [N, C, H, W] float images, "y": class indices}``.

    Args:
        val_fraction: Fraction of images held out for validation.
        test_fraction: Fraction of images held out for testing.
        batch_size: Images per training batch.
        eval_batch_size: Images per evaluation batch; defaults to ``4 * batch_size``.
        seed: Seed of the split and of the shuffling.
    """

    def __init__(
        self,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        batch_size: int = 64,
        eval_batch_size: int | None = None,
        seed: int = 42,
    ) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, seed=seed)
        if not (
            0.0 <= val_fraction < 1.0 and 0.0 <= test_fraction < 1.0 and val_fraction + test_fraction < 1.0
        ):
            raise ConfigError(
                f"data.val_fraction and data.test_fraction must be in [0, 1) and leave images to train on, "
                f"got {val_fraction} and {test_fraction}"
            )
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self._labelled: Images | None = None
        self._rows: dict[str, np.ndarray] | None = None
        self._state: dict[str, Any] | None = None
        self.predict_ids: list[Any] = []

    # -- what subclasses provide ------------------------------------------------------------------------
    def read_labelled(self) -> Images:
        """The labelled images, with ``labels`` and ``classes`` set."""
        raise NotImplementedError

    def read_predict(self) -> Images | None:
        """The images to predict; ``None`` (the default) predicts the test split."""
        return None

    # -- split and standardisation ----------------------------------------------------------------------
    def labelled(self) -> Images:
        """The labelled images, read once."""
        if self._labelled is None:
            self._labelled = self.read_labelled()
        return self._labelled

    def split_rows(self) -> dict[str, np.ndarray]:
        """Indices of the train, validation and test images, stratified by class when possible."""
        if self._rows is None:
            images = self.labelled()
            rows, labels = np.arange(len(images.ids)), images.labels

            def cut(idx: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
                if fraction <= 0:
                    return idx, idx[:0]
                try:
                    return train_test_split(
                        idx, test_size=fraction, random_state=self.seed, stratify=labels[idx]
                    )
                except ValueError:  # a class too small to stratify: a plain random split
                    return train_test_split(idx, test_size=fraction, random_state=self.seed)

            rest, test = cut(rows, self.test_fraction)
            train, val = cut(rest, self.val_fraction / (1.0 - self.test_fraction))
            if len(train) == 0:
                raise DataError(f"{len(rows)} images are too few to split into train, validation and test")
            self._rows = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
        return self._rows

    def _fit_state(self) -> dict[str, Any]:
        if self._state is None:
            images = self.labelled()
            train = images.pixels[self.split_rows()["train"]]
            std = train.std(axis=(0, 2, 3))
            self._state = {
                "classes": list(images.classes or []),
                "input_shape": list(images.pixels.shape[1:]),
                "mean": train.mean(axis=(0, 2, 3)).tolist(),
                "std": np.where(std > 0, std, 1.0).tolist(),
            }
        return self._state

    def _tensor(self, pixels: np.ndarray) -> Tensor:
        state = self._fit_state()
        shape = list(pixels.shape[1:])
        if shape != state["input_shape"]:
            raise DataError(f"images have shape {shape}, but the model was trained on {state['input_shape']}")
        mean = np.array(state["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.array(state["std"], dtype=np.float32).reshape(1, -1, 1, 1)
        return torch.from_numpy(np.ascontiguousarray((pixels - mean) / std, dtype=np.float32))

    # -- what lightkit and Lightning ask for -------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        """Class names, in output order."""
        return list(self._fit_state()["classes"])

    @property
    def data_shape(self) -> dict[str, Any]:
        """Task and sizes the model needs (see lightkit's data-shape convention)."""
        state = self._fit_state()
        return {
            "task": "multiclass",
            "num_outputs": len(state["classes"]),
            "input_shape": state["input_shape"],
        }

    def build_splits(self, stage: str | None) -> dict[str, dict[str, Tensor]]:
        """Tensors of the splits ``stage`` needs, as ``{"x": ..., "y": ...}``."""
        self._fit_state()
        if stage == "predict":
            images = self.read_predict()
            if images is None:
                rows = self.split_rows()["test"]
                labelled = self.labelled()
                images = Images(labelled.pixels[rows], [labelled.ids[i] for i in rows])
            self.predict_ids = list(images.ids)
            return {"predict": {"x": self._tensor(images.pixels)}}
        images, rows = self.labelled(), self.split_rows()
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage or "fit", ())
        return {
            name: {
                "x": self._tensor(images.pixels[rows[name]]),
                "y": torch.as_tensor(images.labels[rows[name]]),
            }
            for name in wanted
        }

    def describe_predictions(self, predictions: Tensor) -> dict[str, list[Any]]:
        """Columns of the prediction file: image id, predicted class, then each class's probability."""
        probs = predictions.detach().cpu().double().numpy()
        # with limit_predict_batches or fast_dev_run the loader yields a prefix of the images, in order
        columns: dict[str, list[Any]] = {"image": list(self.predict_ids)[: len(probs)]}
        columns["prediction"] = [self.classes[i] for i in probs.argmax(axis=1)]
        for i, name in enumerate(self.classes):
            columns[f"prob_{name}"] = probs[:, i].tolist()
        return columns

    def state_dict(self) -> dict[str, Any]:
        """Class names, image shape and standardisation, saved into every checkpoint."""
        return dict(self._state) if self._state is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what training fitted, so that new images get the same transform and class names."""
        if state_dict.get("classes"):
            self._state = dict(state_dict)
