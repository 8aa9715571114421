"""``ImageFolderDataModule``: images in a folder with one subfolder per class, read with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from lightkit import ConfigError, DataError

from lightkit_vision.images import ImageDataModule, Images

__all__ = ["ImageFolderDataModule"]

_EXTENSIONS = [".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"]


class ImageFolderDataModule(ImageDataModule):
    """Images in a folder with one subfolder per class, such as ``root/cat/1.png`` and ``root/dog/2.jpg``.

    Every image is read with Pillow, converted to RGB (or grey), resized to ``image_size`` and
    held in memory, so this suits folders of up to some tens of thousands of small images.
    Class names are the subfolder names, sorted. Predictions are made on the test split, or on
    every image under ``predict_root`` (searched recursively; no class subfolders needed), and
    the prediction file names each image by its path relative to the folder it was found in.

    Args:
        root: Folder with one subfolder of images per class.
        image_size: ``[height, width]`` every image is resized to.
        grayscale: Read images as one grey channel instead of three RGB channels.
        predict_root: Folder of images to predict; by default the test split of ``root``.
        extensions: File suffixes read as images (case does not matter).
        val_fraction: Fraction of images held out for validation.
        test_fraction: Fraction of images held out for testing.
        batch_size: Images per training batch.
        eval_batch_size: Images per evaluation batch; defaults to ``4 * batch_size``.
        seed: Seed of the split and of the shuffling.
    """

    def __init__(
        self,
        root: str,
        image_size: list[int] = [32, 32],  # noqa: B006 - jsonargparse shows list defaults in help
        grayscale: bool = False,
        predict_root: str | None = None,
        extensions: list[str] = _EXTENSIONS,  # noqa: B006
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
        if len(image_size) != 2 or min(image_size) < 1:
            raise ConfigError(
                f"data.image_size must be [height, width] with positive sizes, got {image_size}"
            )
        self.root = root
        self.image_size = list(image_size)
        self.grayscale = grayscale
        self.predict_root = predict_root
        self.extensions = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}

    def _folder(self, value: str, key: str) -> Path:
        folder = Path(value)
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "not found"
            raise DataError(
                f"image folder {value!r} (from data.{key}) {what}",
                "check the path; relative paths are taken from the current directory.",
            )
        return folder

    def _images_in(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in self.extensions and p.is_file())

    def _read(self, paths: list[Path]) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        height, width = self.image_size
        mode = "L" if self.grayscale else "RGB"
        pixels = np.empty((len(paths), 1 if self.grayscale else 3, height, width), dtype=np.float32)
        for i, path in enumerate(paths):
            try:
                with Image.open(path) as image:
                    resized = image.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
            except (UnidentifiedImageError, OSError, ValueError) as err:
                raise DataError(
                    f"image {str(path)!r} cannot be read: {err}",
                    "remove or replace the file, or narrow data.extensions.",
                ) from None
            array = np.asarray(resized, dtype=np.float32) / 255.0
            pixels[i] = array[None] if self.grayscale else array.transpose(2, 0, 1)
        return pixels

    def read_labelled(self) -> Images:
        """Every image under ``root``, labelled by its subfolder."""
        root = self._folder(self.root, "root")
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise DataError(
                f"image folder {self.root!r} (from data.root) has no class subfolders",
                f"put the images in one subfolder per class: {self.root}/cat/1.png, {self.root}/dog/2.png.",
            )
        paths: list[Path] = []
        labels: list[int] = []
        for index, name in enumerate(classes):
            found = self._images_in(root / name)
            if not found:
                raise DataError(
                    f"class folder {str(root / name)!r} has no images",
                    f"image suffixes read are {sorted(self.extensions)}; add images or remove the folder.",
                )
            paths += found
            labels += [index] * len(found)
        ids = [str(p.relative_to(root)) for p in paths]
        return Images(self._read(paths), ids, np.array(labels, dtype=np.int64), classes)

    def read_predict(self) -> Images | None:
        """Every image under ``predict_root``, or ``None`` to predict the test split."""
        if self.predict_root is None:
            return None
        folder = self._folder(self.predict_root, "predict_root")
        paths = self._images_in(folder)
        if not paths:
            raise DataError(
                f"no images under {self.predict_root!r} (from data.predict_root)",
                f"image suffixes read are {sorted(self.extensions)}.",
            )
        return Images(self._read(paths), [str(p.relative_to(folder)) for p in paths])
