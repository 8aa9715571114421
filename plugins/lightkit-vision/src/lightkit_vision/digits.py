"""``DigitsDataModule``: scikit-learn's bundled 8x8 images of handwritten digits (no download)."""

from __future__ import annotations

import numpy as np

from lightkit_vision.images import ImageDataModule, Images

__all__ = ["DigitsDataModule"]


class DigitsDataModule(ImageDataModule):
    """scikit-learn's 1,797 grey 8x8 images of the digits 0 to 9, split into train, validation and test.

    Bundled with scikit-learn, so nothing is downloaded. Images have one channel; the classes
    are named ``"0"`` to ``"9"``. Predictions are made on the test split, and the image ids in
    the prediction file are the rows of the original dataset.

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
        super().__init__(
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            seed=seed,
        )

    def read_labelled(self) -> Images:
        """The digits, scaled from 0..16 to 0..1, as ``[N, 1, 8, 8]``."""
        from sklearn.datasets import load_digits

        digits = load_digits()
        pixels = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
        classes = [str(int(name)) for name in digits.target_names]
        return Images(pixels, list(range(len(pixels))), digits.target.astype(np.int64), classes)
