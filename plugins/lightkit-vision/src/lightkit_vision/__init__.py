"""lightkit-vision: image classification as a lightkit plugin.

``SmallCNN`` (model), ``DigitsDataModule`` and ``ImageFolderDataModule`` (data) live in their own
modules, which lightkit imports only when a command selects them; importing this package imports
neither torch nor Pillow.
"""

__all__: list[str] = []
