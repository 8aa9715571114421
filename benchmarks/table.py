"""The benchmark table: a synthetic binary-classification CSV, the same bytes on every machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["FEATURES", "read_table", "split_rows", "write_columnar", "write_table"]

#: feature columns are f0 .. f{FEATURES-1}; the target column is ``y`` (0 or 1)
FEATURES = 32


def write_table(path: Path, rows: int, features: int = FEATURES, seed: int = 0) -> Path:
    """Write ``rows`` rows of ``features`` float columns and a 0/1 target ``y``; reused if present."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features), dtype=np.float32)
    weights = rng.standard_normal(features).astype(np.float32)
    logits = x @ weights / np.sqrt(features) + 0.5 * np.sin(3 * x[:, 0]) + 0.3 * rng.standard_normal(rows)
    y = (logits > 0).astype(np.int64)
    header = ",".join([*(f"f{i}" for i in range(features)), "y"])
    data = np.column_stack([x, y])
    fmt = ["%.5f"] * features + ["%d"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    np.savetxt(tmp, data, fmt=fmt, delimiter=",", header=header, comments="")
    tmp.replace(path)
    return path


def write_columnar(path: Path, source: str | Path) -> Path:
    """The CSV ``source`` as Parquet or Feather (by ``path``'s suffix): the same values, float32 features."""
    if path.exists():
        return path
    import pandas as pd

    frame = pd.read_csv(source)
    frame[frame.columns[:-1]] = frame[frame.columns[:-1]].astype(np.float32)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False) if path.suffix == ".parquet" else frame.to_feather(tmp)
    tmp.replace(path)
    return path


def write_parquet_table(
    path: Path, rows: int, features: int = FEATURES, seed: int = 0, chunk: int = 1_000_000
) -> Path:
    """A table like :func:`write_table`'s (float32 features, 0/1 ``y``) as Parquet, generated in chunks
    so that tables of tens of millions of rows need little memory; reused if present."""
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(features).astype(np.float32)
    names = [*(f"f{i}" for i in range(features)), "y"]
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        x = rng.standard_normal((n, features), dtype=np.float32)
        logits = x @ weights / np.sqrt(features) + 0.5 * np.sin(3 * x[:, 0]) + 0.3 * rng.standard_normal(n)
        columns = [pa.array(x[:, i]) for i in range(features)] + [pa.array((logits > 0).astype(np.int64))]
        batch = pa.table(columns, names=names)
        writer = writer or pq.ParquetWriter(tmp, batch.schema)
        writer.write_table(batch, row_group_size=chunk)
    if writer is not None:
        writer.close()
    tmp.replace(path)
    return path


def read_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features as float32 (standardised later by each contender) and the 0/1 target as float32."""
    import pandas as pd

    frame = pd.read_csv(path)
    y = frame.pop("y").to_numpy(dtype=np.float32)
    return frame.to_numpy(dtype=np.float32), y


def split_rows(rows: int, val_fraction: float, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices (a random split of the same sizes lightkit makes)."""
    order = np.random.default_rng(seed).permutation(rows)
    n_val = int(round(rows * val_fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])
