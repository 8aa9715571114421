"""Parquet, Feather and CSV input: the same table gives the same tensors and the same trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import torch

from lightkit.components import preprocessing
from lightkit.components.csv_data import CSVDataModule
from lightkit.data import tables
from lightkit.data.tables import read_columns, read_table, table_format
from lightkit.errors import DataError

from conftest import TINY


def frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(rows)],
            "size": np.round(rng.normal(10.0, 2.0, rows), 5),
            "weight": rng.normal(0.0, 1.0, rows),  # full float64 precision
            "count": rng.integers(0, 50, rows),
            "colour": rng.choice(["red", "green", "blue"], rows),
            "y": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture
def same_table(tmp_path: Path) -> dict[str, Path]:
    """One table written as CSV, Parquet and Feather."""
    table = frame()
    paths = {"csv": tmp_path / "t.csv", "parquet": tmp_path / "t.parquet", "feather": tmp_path / "t.feather"}
    table.to_csv(paths["csv"], index=False)
    table.to_parquet(paths["parquet"], index=False)
    table.to_feather(paths["feather"])
    return paths


def tensors(path: Path, **kwargs: object) -> dict[str, dict[str, torch.Tensor]]:
    data = CSVDataModule(path=str(path), target="y", id_column="id", **kwargs)
    data.setup("fit")
    test = CSVDataModule(path=str(path), target="y", id_column="id", **kwargs)
    test.setup("test")
    return {**data._splits, **test._splits}


def test_csv_parquet_and_feather_give_identical_tensors(same_table, monkeypatch):
    by_format = {kind: tensors(path) for kind, path in same_table.items()}
    monkeypatch.setattr(tables, "_chunked_csv", lambda *args: None)  # the CSV read whole (the fallback)
    by_format["csv, read whole"] = tensors(same_table["csv"])
    reference = by_format.pop("csv")
    assert set(reference) == {"train", "val", "test"}
    for kind, splits in by_format.items():
        for split, named in reference.items():
            for name, tensor in named.items():
                other = splits[split][name]
                assert other.dtype == tensor.dtype and torch.equal(other, tensor), (kind, split, name)


def test_csv_parquet_and_feather_train_identical_weights(lightkit, same_table):
    weights = {}
    for kind, path in same_table.items():
        result = lightkit(
            "fit", "--model", "TabularMLP", "--data", "CSVDataModule", "--data.path", str(path),
            "--data.target", "y", "--data.id_column", "id", "--seed_everything", "7",
            "--run.name", kind, *TINY,
        )  # fmt: skip
        assert result.code == 0, result.err
        checkpoint = next(Path("runs", kind).rglob("last.ckpt"))
        weights[kind] = torch.load(checkpoint, weights_only=False, map_location="cpu")["state_dict"]
    reference = weights.pop("csv")
    for kind, state in weights.items():
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[k], reference[k]) for k in reference), kind


def test_the_format_follows_the_suffix_and_can_be_overridden(tmp_path):
    assert [table_format(p) for p in ("a.csv", "a.PARQUET", "a.pq", "a.feather", "a.arrow", "a.tsv")] == [
        "csv", "parquet", "parquet", "feather", "feather", "csv",
    ]  # fmt: skip
    assert table_format("a.csv", "parquet") == "parquet"
    table = frame(40)
    table.to_parquet(tmp_path / "table.dat", index=False)
    read = read_table(tmp_path / "table.dat", "parquet")
    assert read["size"].tolist() == table["size"].tolist()
    with pytest.raises(DataError, match="not UTF-8"):  # read as CSV, as the suffix says
        read_table(tmp_path / "table.dat")
    data = CSVDataModule(path=str(tmp_path / "table.dat"), target="y", id_column="id", format="parquet")
    assert data.data_shape["num_features"] == 3 + 4


def test_the_memory_path_is_float32_and_drops_the_frame(same_table, tmp_path):
    read = read_table(same_table["parquet"], float32=True, keep=["y"])
    assert read["size"].dtype == np.float32 and read["weight"].dtype == np.float32
    assert read["count"].dtype == np.int64 and read["y"].dtype == np.int64  # targets and integers as read
    assert len(read._mgr.blocks) == read.shape[1]  # a block per column: no consolidated copy
    frame().drop(columns="colour").to_csv(tmp_path / "numeric.csv", index=False)
    data = CSVDataModule(path=str(tmp_path / "numeric.csv"), target="y", id_column="id")
    assert data.read_frame()["weight"].dtype == np.float32
    raw = data.fit_preprocessor() and data._raw["train"].numeric
    assert raw.dtype == np.float32 and raw.flags.c_contiguous
    assert data._frame is None  # emptied while the splits were cut out of it
    data.setup("fit")
    train = data._splits["train"]
    assert train["x"].dtype == torch.float32 and train["y"].dtype == torch.float32
    assert data._splits["val"]["x"].dtype == torch.float32
    assert train["x"].data_ptr() == raw.ctypes.data  # the block became the tensor: standardised in place
    assert data._frame is None and data._raw is None  # released once the tensors exist
    arrays = data.preprocessor.transform_features(frame(10).drop(columns="y"))
    assert {a.dtype for a in arrays.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"categorical_encoding": "embedding"},
        {"missing": "impute"},
        {"task": "regression", "target": "size"},
    ],
)
def test_splits_cut_while_fitting_are_each_split_transformed_on_its_own(tmp_path, monkeypatch, settings):
    table = frame(500)
    table.loc[[3, 77, 300], "weight"] = np.nan if settings.get("missing") else 0.5
    table.to_parquet(tmp_path / "t.parquet", index=False)
    kwargs = {"path": str(tmp_path / "t.parquet"), "target": "y", "id_column": "id", **settings}
    monkeypatch.setattr(preprocessing, "_TILE_BYTES", 4 * 3 * 7)  # tiles of 7 rows: many tile edges
    for stage, splits in (("fit", {"train", "val"}), ("test", {"test"})):
        cut = CSVDataModule(**kwargs)
        cut.setup(stage)  # fitted on this table: every split cut out of it column by column
        assert cut._frame is None
        # the same preprocessing from a checkpoint: each split read and transformed from its frame rows
        plain = CSVDataModule(**kwargs)
        plain.load_state_dict(cut.state_dict())
        plain.setup(stage)
        assert set(cut._splits) == set(plain._splits) == splits
        for split, named in plain._splits.items():
            for name, tensor in named.items():
                ours = cut._splits[split][name]
                assert ours.dtype == tensor.dtype and torch.equal(ours, tensor), (split, name)
                assert ours.is_contiguous()


@pytest.mark.parametrize("kind", ["csv", "parquet", "feather"])
def test_rows_are_split_from_the_targets_alone_before_the_table_is_read(same_table, monkeypatch, kind):
    path = same_table[kind]
    alone = read_columns(path, ["y"])
    whole = read_table(path, float32=True, keep=["y", "id"])
    pd.testing.assert_frame_equal(alone, whole[["y"]])  # as read_table reads them
    assert read_columns(path, ["y", "nope"]) is None  # read_table then names the missing column
    assert list(read_columns(path, ["y", "size"]).columns) == ["y", "size"]  # the order asked for
    reads: list[str] = []
    split_at_read: list[bool] = []
    data = CSVDataModule(path=str(path), target="y", id_column="id")
    real_read_frame = data.read_frame
    monkeypatch.setattr(data, "read_targets", lambda: reads.append("targets") or alone)
    monkeypatch.setattr(
        data, "read_frame", lambda: split_at_read.append(bool(data._split_rows)) or real_read_frame()
    )
    data.fit_preprocessor()
    assert reads == ["targets"] and split_at_read == [True]
    # the same rows as a split of the whole table
    reference = CSVDataModule(path=str(path), target="y", id_column="id")
    monkeypatch.setattr(reference, "read_targets", lambda: None)
    reference.fit_preprocessor()
    for name in ("train", "val", "test"):
        assert np.array_equal(data._split_rows[name], reference._split_rows[name])
    # targets that are not the table's own (a messy CSV read two ways): split again from the table
    wrong = CSVDataModule(path=str(path), target="y", id_column="id")
    monkeypatch.setattr(wrong, "read_targets", lambda: alone.iloc[::-1].reset_index(drop=True))
    wrong.fit_preprocessor()
    for name in ("train", "val", "test"):
        assert np.array_equal(wrong._split_rows[name], reference._split_rows[name])


@pytest.mark.parametrize("chunk_rows", [7, 64, 1 << 16])  # a 1-row chunk of a gap is floats: read whole
def test_a_csv_read_in_chunks_is_the_csv_read_whole(tmp_path, monkeypatch, chunk_rows):
    table = frame(3000)
    table.loc[5, "size"] = np.nan
    table.loc[2900, "count"] = None  # an integer column with a gap late on: floats, as pandas reads it
    table.loc[9, "colour"] = None
    table["flag"] = table["count"].fillna(0) > 20  # booleans
    table["note"] = "a b"  # spaces: skipinitialspace has something to skip
    table.loc[3, "note"] = " c"
    table.to_csv(tmp_path / "t.csv", index=False)
    monkeypatch.setattr(tables, "_CHUNK_ROWS", chunk_rows)
    whole = pd.read_csv(tmp_path / "t.csv", skipinitialspace=True)
    chunked = tables._chunked_csv(tmp_path / "t.csv", ",", float32=False, keep=())
    assert chunked is not None
    pd.testing.assert_frame_equal(chunked, whole)
    small = tables._chunked_csv(tmp_path / "t.csv", ",", float32=True, keep=("y",))
    tables._to_float32(whole, ("y",))
    pd.testing.assert_frame_equal(small, whole)
    assert small["size"].dtype == np.float32 and small["count"].dtype == np.float32


@pytest.mark.parametrize(
    "text",
    [
        "a,y\n1,0\n2,1\nx,0\n",  # numbers, then text
        "a,y\nTrue,0\nFalse,1\n,0\n",  # booleans, then a gap
        "a,y\r1,0\r2,1\r3,0\r",  # lines that end in a bare carriage return
        "a,y\n1,0\n2,1\n18446744073709551615,0\n",  # an integer past int64
    ],
)
def test_what_chunks_cannot_decide_is_read_whole(tmp_path, monkeypatch, text):
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8", newline="")
    monkeypatch.setattr(tables, "_CHUNK_ROWS", 1)
    assert tables._chunked_csv(path, ",", float32=False, keep=()) is None
    pd.testing.assert_frame_equal(read_table(path), pd.read_csv(path, skipinitialspace=True))


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffa,y\n1,0\n2,1\n3,0\n",  # byte-order mark
        "a,y\r\n1,0\r\n2,1\r\n3,0\r\n",  # CRLF
        'a,b,y\n1,"x, y",0\n2,z,1\n3,w,0\n',  # a quoted comma
        "größe,y\n1,0\n2,1\n3,0\n",  # a non-ASCII header
        "a, b,y\n1, 2,0\n3, 4,1\n5, 6,0\n",  # spaces after the delimiter (skipinitialspace)
        "a,a,y\n1,2,0\n3,4,1\n5,6,0\n",  # duplicate names: pandas renames them
        "a,y\n1,0\n\n2,1\n3,0\n",  # a blank line
        "a,d,y\n1,2020-01-01,0\n2,2020-01-02,1\n3,2020-01-03,0\n",  # dates stay strings in pandas
        "a,y\n1,True\n2,\n3,False\n",  # booleans with a gap
        "a,b,y\n1,2,0\n3,4,1\n5,6\n",  # a short row: a gap, as pandas reads it
    ],
)
@pytest.mark.parametrize("chunk_rows", [1, 1 << 16])
def test_messy_csvs_are_read_exactly_as_pandas_reads_them(tmp_path, monkeypatch, text, chunk_rows):
    monkeypatch.setattr(tables, "_CHUNK_ROWS", chunk_rows)
    path = tmp_path / "m.csv"
    path.write_text(text, encoding="utf-8", newline="")
    read = read_table(path)
    pd.testing.assert_frame_equal(read, pd.read_csv(path, skipinitialspace=True), check_like=False)
    assert read.attrs == {"source": str(path), "first_line": 2}


def test_parquet_and_feather_problems_are_short_messages(tmp_path, same_table):
    missing = r"Parquet file '.*nothere.parquet' \(from data.path\) does not exist"
    with pytest.raises(DataError, match=missing):
        read_table(tmp_path / "nothere.parquet")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 but not really")
    with pytest.raises(DataError, match="Parquet file .* cannot be read") as err:
        read_table(tmp_path / "bad.parquet")
    assert "--data.format" in err.value.hint
    frame().iloc[:0].to_feather(tmp_path / "empty.feather")
    with pytest.raises(DataError, match="Feather file .* has no data rows"):
        read_table(tmp_path / "empty.feather")


def test_a_bad_cell_in_parquet_is_named_by_row_and_column(tmp_path):
    table = frame(40)
    table["size"] = table["size"].astype(object)
    table.loc[6, "size"] = np.inf
    table["size"] = table["size"].astype(float)
    table.to_parquet(tmp_path / "t.parquet", index=False)
    data = CSVDataModule(path=str(tmp_path / "t.parquet"), target="y", id_column="id", missing="impute")
    named = r"infinite value 'inf' in numeric column 'size' at row 6 of .*t.parquet"
    with pytest.raises(DataError, match=named):
        data.setup("fit")


@pytest.mark.parametrize("rows", [1, 7, preprocessing._STATS_ROWS, preprocessing._STATS_ROWS + 1, 50_001])
@pytest.mark.parametrize("with_gaps", [False, True])
def test_statistics_in_chunks_are_numpys_bit_for_bit(rows, with_gaps):
    """The train statistics are computed in chunks of rows, exactly as np.nanmean/np.nanstd would."""
    rng = np.random.default_rng(rows)
    block = rng.standard_normal((rows, 6)) * rng.uniform(0.1, 100, 6) + rng.uniform(-50, 50, 6)
    block = block.astype(np.float32)
    if with_gaps:
        block[rng.integers(0, rows, rows // 3 + 1), rng.integers(0, 6, rows // 3 + 1)] = np.nan
    mean, std = preprocessing._column_stats(block)
    with np.errstate(all="ignore"):
        assert np.array_equal(mean, np.nanmean(block, axis=0), equal_nan=True)
        assert np.array_equal(std, np.nanstd(block, axis=0), equal_nan=True)


def mixed_frame(rows: int = 1000, seed: int = 3) -> pd.DataFrame:
    """Columns of every kind a table has, with gaps, and an index that is not 0..n-1."""
    rng = np.random.default_rng(seed)
    table = frame(rows, seed)
    table["small"] = rng.normal(0.0, 1.0, rows).astype(np.float32)
    table["gappy"] = rng.normal(0.0, 1.0, rows)
    table.loc[::7, "gappy"] = np.nan
    table["few"] = pd.array(rng.integers(0, 9, rows), dtype="Int64")
    table.loc[::11, "few"] = pd.NA  # an integer column with gaps: floats with NaN, as ever
    table["flag"] = rng.integers(0, 2, rows).astype(bool)
    table["label"] = pd.Categorical(rng.choice(["a", "b", "c"], rows))
    table["when"] = pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC")
    table.loc[::13, "id"] = None
    table.index = table.index * 3  # saved as __index_level_0__, which is not a column
    return table


def as_read_whole(table: pa.Table, float32: bool, keep: tuple[str, ...] = ("y",)) -> pd.DataFrame:
    """What reading the whole Arrow table and converting each column gives (the reader's contract)."""
    columns = {}
    for name in table.column_names:
        if not name.startswith("__index_level_"):
            column = table.column(name).to_pandas()
            if float32 and name not in keep and pa.types.is_float64(table.column(name).type):
                column = column.astype(np.float32)
            columns[name] = column
    return pd.DataFrame(columns)


@pytest.mark.parametrize("float32", [False, True])
def test_parquet_read_column_by_column_is_the_whole_table(tmp_path, float32):
    table = mixed_frame()
    table.to_parquet(tmp_path / "t.parquet", row_group_size=128)  # 8 row groups, index saved
    assert pq.ParquetFile(tmp_path / "t.parquet").metadata.num_row_groups == 8
    read = read_table(tmp_path / "t.parquet", float32=float32, keep=["y"])
    pd.testing.assert_frame_equal(read, as_read_whole(pq.read_table(tmp_path / "t.parquet"), float32))
    assert "__index_level_0__" not in read.columns and read["gappy"].isna().sum() == len(table[::7])
    assert read["few"].dtype == np.float64 and read["small"].dtype == np.float32
    assert len(read._mgr.blocks) == read.shape[1]


@pytest.mark.parametrize("compression", ["lz4", "uncompressed"])
@pytest.mark.parametrize("float32", [False, True])
def test_feather_read_column_by_column_is_the_whole_table(tmp_path, compression, float32):
    path = tmp_path / "t.feather"
    feather.write_feather(mixed_frame(), path, compression=compression, chunksize=100)  # 10 batches
    assert ipc.open_file(path).num_record_batches == 10
    read = read_table(path, float32=float32, keep=["y"])
    pd.testing.assert_frame_equal(read, as_read_whole(feather.read_table(path), float32))
    assert len(read._mgr.blocks) == read.shape[1]
    if compression == "uncompressed":  # read from a memory map: the frame must not point into the file
        mapped = pa.memory_map(str(path)).read_buffer()
        start, stop = mapped.address, mapped.address + mapped.size
        for name in read.columns:
            values = read[name].to_numpy()
            if values.dtype != object:
                assert not start <= values.__array_interface__["data"][0] < stop, name


def test_old_feather_files_read_and_duplicate_parquet_names_fail_as_before(tmp_path):
    feather.write_feather(mixed_frame(50), tmp_path / "v1.feather", version=1)
    read = read_table(tmp_path / "v1.feather")
    pd.testing.assert_frame_equal(read, as_read_whole(feather.read_table(tmp_path / "v1.feather"), False))
    pq.write_table(
        pa.table([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["a", "a"]), tmp_path / "d.pq"
    )
    with pytest.raises(DataError, match=r"Parquet file .*d.pq' cannot be read: Multiple matches"):
        read_table(tmp_path / "d.pq")  # the whole-table read's message, as before
