"""Time the tabular data module's preparation of one table: read, preprocess, build the split tensors.

Usage: ``python benchmarks/read_formats.py MODE PATH`` with MODE ``csv`` (lightkit's choice: pyarrow's
reader for a plain CSV), ``csv-pandas`` (pandas' C parser, the path of messy CSVs), ``parquet`` or
``feather``. Reports ``prepare_s`` and ``prepare_cpu_s`` (data_shape + setup("fit")) and the tensors'
checksum, so that the runner can check every format gave the same tensors.
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
        tables._plain_rows = lambda *args: None  # what a messy CSV takes: pandas' C parser
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


if __name__ == "__main__":
    main()
