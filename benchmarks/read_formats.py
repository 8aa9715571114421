"""Time the tabular data module's preparation of one table: read, preprocess, build the split tensors.

Usage: ``python benchmarks/read_formats.py MODE PATH`` with MODE ``csv`` (lightkit's choice: pandas'
C parser in chunks, into float32 columns), ``csv-pandas`` (pandas' C parser reading the file whole,
in parallel where pandas does: lightkit's fallback), ``csv-pyarrow`` (pandas' pyarrow engine, for
comparison), ``parquet`` or ``feather``. Reports ``prepare_s`` and ``prepare_cpu_s`` (data_shape +
setup("fit")) and the tensors' checksum, so that the runner can check every format gave the same tensors.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.timing import peak_rss_mb, report  # noqa: E402


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    import lightning.pytorch  # noqa: F401  (the import floor is the same in every mode)

    from lightkit.components.csv_data import CSVDataModule
    from lightkit.data import tables

    if mode == "csv-pandas":
        tables._chunked_csv = lambda *args: None  # the whole-file read: lightkit's fallback
    elif mode == "csv-pyarrow":
        tables._chunked_csv = _pyarrow_engine
    before = peak_rss_mb()
    start, start_cpu = time.perf_counter(), time.process_time()
    data = CSVDataModule(path=path, target="y", val_fraction=0.2, test_fraction=0.0)
    assert data.data_shape  # fits the preprocessing, as the CLI does before the model exists
    data.setup("fit")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    x = data._splits["train"]["x"]
    report(
        {
            "prepare_s": elapsed,
            "prepare_cpu_s": cpu,
            "peak_rss_before_mb": before,
            "checksum": float(x.double().sum()) + float(data._splits["val"]["x"].double().sum()),
        }
    )


def _pyarrow_engine(file: Path, delimiter: str, float32: bool, keep: tuple[str, ...]) -> object:
    """The CSV read by pandas' ``engine="pyarrow"``, floats as float32 as lightkit's reader gives them."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(file, sep=delimiter, engine="pyarrow")
    for column in frame.columns:
        if float32 and column not in keep and frame[column].dtype == np.float64:
            frame[column] = frame[column].astype(np.float32)
    return frame


if __name__ == "__main__":
    main()
