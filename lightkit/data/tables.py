"""Reading one table from CSV, Parquet or Feather into a pandas DataFrame, lean on memory.

:func:`read_table` picks the format from the file's suffix (``.parquet``/``.pq``, ``.feather``/
``.arrow``/``.ipc``, anything else is CSV) unless told. Parquet and Feather are read with pyarrow
one column at a time, each converted into its frame column before the next is read, so the peak
is the frame and one column (an uncompressed Feather file from a memory map that is closed after
each column; a file the column reader does not open, such as Feather V1, is read whole as before).
:func:`read_columns` reads a few columns alone: the targets, so that the rows can be split before
the table is read.

CSV is read with pyarrow's streaming CSV reader (the parser behind pandas' ``engine="pyarrow"``)
only where it gives the values pandas' C parser gives: a plain file (no quotes, no byte-order
mark, no carriage returns, tabs or spaces beside a delimiter or a line end, unique non-empty
header names), columns that come out as integers, floats, strings or booleans without gaps,
the first rows checked against the C parser cell by cell. Anything else (a quoted comma, a
ragged row, a byte that is not UTF-8, a type that changes halfway) is read by pandas' C parser
exactly as before, so messy files behave and fail as they always did, with line and column.

With ``float32`` set, floating-point columns come out as float32 (all but the ``keep`` columns,
such as targets): the same rounding the preprocessing applies anyway, at half the memory. Frames
from pyarrow hold one block per column, so a column dropped from the frame frees its memory.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lightkit.data.lazy import LazyModule
from lightkit.errors import DataError

if TYPE_CHECKING:
    import pandas

pd = LazyModule("pandas")
np = LazyModule("numpy")

__all__ = ["FORMATS", "TableFormat", "read_columns", "read_table", "table_format"]

TableFormat = Literal["auto", "csv", "parquet", "feather"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "feather")

_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
}
_NAMES = {"csv": "CSV", "parquet": "Parquet", "feather": "Feather"}
#: rows of a CSV read by both parsers and compared cell by cell before the fast one is trusted
_CHECK_ROWS = 1000
#: bytes per block of pyarrow's streaming CSV reader: its buffers grow with the block, not its
#: speed (a 55 MB CSV of 200,000 x 33 numbers read into a 26 MB frame: +86 MB at the peak with
#: 1 MiB blocks, +48 MB with 128 KiB, in the same time; 2M rows: +311 MB and +280 MB)
_BLOCK = 128 << 10
#: bytes per block of the plain-file scan (:func:`_plain_rows`), freed block by block
_SCAN_BLOCK = 1 << 20


def table_format(path: str | Path, format: TableFormat = "auto") -> str:
    """The format ``path`` is read as: ``format`` itself, or by suffix when ``auto``."""
    if format != "auto":
        return format
    return _SUFFIXES.get(Path(path).suffix.lower(), "csv")


def read_table(
    path: str | Path,
    format: TableFormat = "auto",
    delimiter: str = ",",
    float32: bool = False,
    keep: Collection[str] = (),
) -> pandas.DataFrame:
    """The table in ``path``; ``attrs['source']`` names it, and for CSV ``attrs['first_line']`` is 2.

    Args:
        path: The file.
        format: ``csv``, ``parquet``, ``feather``, or ``auto`` (by suffix).
        delimiter: Field separator of a CSV file.
        float32: Floating-point columns as float32, except those in ``keep``.
        keep: Columns left as read (targets, ids).

    Raises:
        DataError: The file is missing, empty, or cannot be read as ``format``; the message
            names the file and, for a CSV that cannot be parsed, the line.
    """
    kind = table_format(path, format)
    name = _NAMES[kind]
    file = Path(path)
    if not file.is_file():
        raise DataError(
            f"{name} file {str(path)!r} (from data.path) does not exist"
            if not file.exists()
            else f"data.path {str(path)!r} is not a file",
            "check the path; relative paths are taken from the current directory.",
        )
    if kind == "csv":
        frame = _fast_csv(file, delimiter, float32, keep)
        if frame is None:
            frame = _pandas_csv(file, str(path), delimiter)
            if float32:
                _to_float32(frame, keep)
        frame.attrs["first_line"] = 2
    else:
        frame = _arrow_file(file, str(path), kind, float32, keep)
    if frame.empty:
        columns = list(map(str, frame.columns))[:8]
        if kind == "csv":
            raise DataError(
                f"CSV file {str(path)!r} has a header but no data rows",
                f"its header is {columns}; add rows below it.",
            )
        raise DataError(f"{name} file {str(path)!r} has no data rows", f"its columns are {columns}.")
    frame.attrs["source"] = str(path)
    return frame


def read_columns(
    path: str | Path, names: Collection[str], format: TableFormat = "auto", delimiter: str = ","
) -> pandas.DataFrame | None:
    """The columns ``names`` of a table alone, as :func:`read_table` would read them.

    Parquet and Feather read just those columns; a CSV is parsed whole by pyarrow's streaming
    reader, but only those columns are converted (about a fifth of a whole read; pyarrow's
    buffers are handed back at the end, where pandas' C parser would leave its own in the heap).
    A CSV's columns can differ from what :func:`read_table` reads from a messy file: a caller
    compares them with the table's. ``None`` where they cannot be read alone: a missing column, a
    file that does not parse; :func:`read_table` then says what is wrong.
    """
    kind = table_format(path, format)
    file = Path(path)
    if not file.is_file():
        return None
    import pyarrow as pa

    wanted = list(dict.fromkeys(names))
    try:
        if kind == "csv":
            frame = _csv_columns(file, delimiter, wanted)
        else:
            frame = _to_pandas(_file_columns(file, kind, set(wanted)), float32=False, keep=())
    except (pa.ArrowException, OSError, ValueError, UnicodeDecodeError):
        return None
    finally:
        pa.default_memory_pool().release_unused()
    if sorted(map(str, frame.columns)) != sorted(wanted) or frame.empty:
        return None
    frame = frame[wanted]  # in the order asked for (a file gives its own)
    frame.attrs["source"] = str(path)
    return frame


def _csv_columns(file: Path, delimiter: str, names: list[str]) -> pandas.DataFrame:
    """The columns ``names`` of a CSV, every row parsed and only these converted (pyarrow)."""
    import pyarrow as pa

    reader = _open_csv(file, delimiter, quoted=True, columns=names)
    chunks: dict[str, list[Any]] = {name: [] for name in names}
    for batch in reader:
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            chunks[name].append(column)
    return pd.DataFrame(
        {
            name: pa.chunked_array(parts, reader.schema.field(name).type).to_pandas()
            for name, parts in chunks.items()
        }
    )


# -- Parquet and Feather -----------------------------------------------------------------------------
def _arrow_file(file: Path, shown: str, kind: str, float32: bool, keep: Collection[str]) -> pandas.DataFrame:
    import pyarrow as pa

    try:
        frame = _to_pandas(_file_columns(file, kind), float32, keep)
    except (pa.ArrowException, OSError, ValueError):
        frame = None  # not a Parquet/Feather file, a Feather V1 file, duplicate Parquet names: below
    if frame is not None:
        return frame
    # read whole, as it always was: the same frame, and for a file that is not one, the same message
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(file)
        else:
            import pyarrow.feather as feather

            table = feather.read_table(file)
    except (pa.ArrowException, OSError, ValueError) as err:
        other = " or ".join(f for f in FORMATS if f != kind)
        raise DataError(
            f"{_NAMES[kind]} file {shown!r} cannot be read: {' '.join(str(err).split())}",
            f"is it a {_NAMES[kind]} file? pass --data.format {other} if it is another format.",
        ) from None
    return _to_pandas(_table_columns(table), float32, keep)


def _file_columns(file: Path, kind: str, only: Collection[str] | None = None) -> Iterator[tuple[str, Any]]:
    """The file's columns (or those in ``only``) as ``(name, ChunkedArray)``, each read when asked for.

    So that the peak is the frame plus one column: no whole Arrow table beside the frame, and no
    decode buffers of every column at once (the whole-table read held about as much again). Index
    columns saved by pandas are not read at all.
    """
    import pyarrow as pa

    if kind == "parquet":
        import pyarrow.parquet as pq

        with pq.ParquetFile(file) as parquet:  # the footer; a column's pages are read when it is
            names = parquet.schema_arrow.names
            if len(set(names)) != len(names):
                raise ValueError("duplicate column names")  # picked by name below: read those whole
            for name in names:
                if not name.startswith("__index_level_") and (only is None or name in only):
                    yield name, parquet.read(columns=[name], use_threads=False).column(0)
        return
    import pyarrow.ipc as ipc

    pool = pa.default_memory_pool()
    with pa.memory_map(str(file)) as source:  # the footer: the schema and where the batches are
        reader = ipc.open_file(source)
        schema, batches = reader.schema, reader.num_record_batches
        before = pool.bytes_allocated()
        first = reader.get_batch(0) if batches else None
        # an uncompressed file is read from a map without a copy: nothing taken from Arrow's pool
        mapped = first is not None and pool.bytes_allocated() == before
        del first, reader
    for i, field in enumerate(schema):
        if field.name.startswith("__index_level_") or (only is not None and field.name not in only):
            continue
        if mapped:
            # an uncompressed file: field i's buffers in each batch are views of a map (only their
            # pages are touched), and the map is closed once the column is converted (one map for
            # the whole file would count in the RSS, all of it by the last column). Floats are
            # copied into the frame by _to_pandas; anything else is copied into Arrow's pool first,
            # as to_pandas() may keep Arrow's buffer as the column, and that must not be the file.
            with pa.memory_map(str(file)) as source:
                reader = ipc.open_file(source)
                chunks = [reader.get_batch(b).column(i) for b in range(batches)]
                if not (pa.types.is_floating(field.type) and not pa.types.is_float16(field.type)):
                    chunks = [chunk.copy_to(pa.default_cpu_memory_manager()) for chunk in chunks]
                yield field.name, pa.chunked_array(chunks, field.type)
                del reader, chunks
        else:
            # a compressed file: only field i's buffers are read and decompressed, batch by batch,
            # into Arrow's pool (without included_fields pyarrow decompresses every field of a batch)
            with pa.OSFile(str(file)) as handle:
                options = ipc.IpcReadOptions(included_fields=[i], use_threads=False)
                reader = ipc.open_file(handle, options=options)
                yield (
                    field.name,
                    pa.chunked_array([reader.get_batch(b).column(0) for b in range(batches)], field.type),
                )
                del reader


def _table_columns(table: Any) -> Iterator[tuple[str, Any]]:
    """``table``'s columns as ``(name, ChunkedArray)``, each dropped from the table as it is handed out."""
    for name in table.column_names:
        column = table.column(0)
        table = table.remove_column(0)
        if not name.startswith("__index_level_"):  # a pandas index saved with the table: not a column
            yield name, column
        del column


def _to_pandas(columns: Iterator[tuple[str, Any]], float32: bool, keep: Collection[str]) -> pandas.DataFrame:
    """The ``columns`` as a frame with one block per column, converted one at a time.

    Each Arrow column is dropped once converted, and the Arrow pool hands its memory back, so
    the peak is about the frame and one Arrow column, not an Arrow table and the frame side by side.
    """
    import pyarrow as pa

    data: dict[str, Any] = {}
    pool = pa.default_memory_pool()
    try:
        for name, column in columns:
            if pa.types.is_floating(column.type) and not pa.types.is_float16(column.type):
                # floats to numpy (nulls are NaN); float32 where asked, the preprocessing's rounding
                small = float32 and name not in keep
                values = np.empty(len(column), dtype=np.float32 if small else column.type.to_pandas_dtype())
                start = 0
                for chunk in column.chunks:
                    values[start : start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
                    start += len(chunk)
                    del chunk  # may be a view of a memory map: not kept past its column
                data[name] = values
            else:
                data[name] = column.to_pandas()
            del column
            pool.release_unused()  # the column's Arrow memory back to the system now, not at the end
    finally:
        pool.release_unused()
    return pd.DataFrame(data, copy=False)


# -- CSV -----------------------------------------------------------------------------------------------
def _pandas_csv(file: Path, shown: str, delimiter: str) -> pandas.DataFrame:
    """Read with pandas' C parser, with lightkit's messages for what goes wrong (as always)."""
    try:
        return pd.read_csv(file, sep=delimiter, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"CSV file {shown!r} (from data.path) is empty", "it needs a header line and data rows."
        ) from None
    except pd.errors.ParserError as err:
        detail = " ".join(str(err).split()).removeprefix("Error tokenizing data. C error: ")
        raise DataError(
            f"CSV file {shown!r} cannot be parsed: {detail}",
            f"every line needs the header's number of {delimiter!r}-separated fields; quote "
            "fields that contain the delimiter.",
        ) from None
    except UnicodeDecodeError:
        raise DataError(
            f"CSV file {shown!r} is not UTF-8 text ({_first_bad_byte(file)})",
            "save it as UTF-8 CSV; is it a spreadsheet or a compressed file?",
        ) from None
    except (OSError, ValueError) as err:
        raise DataError(
            f"CSV file {shown!r} cannot be read with delimiter {delimiter!r}: {err}",
            "check the file's permissions and --data.delimiter.",
        ) from None


def _first_bad_byte(path: Path) -> str:
    """Where the first byte that is not UTF-8 is: ``byte 0xff on line 2``."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return f"byte {raw[err.start]:#04x} on line {line}"
    return "an undecodable byte"


def _to_float32(frame: pandas.DataFrame, keep: Collection[str]) -> None:
    for column in frame.columns:
        if column not in keep and frame[column].dtype == np.float64:
            frame[column] = frame[column].astype(np.float32)


def _plain_rows(file: Path, delimiter: str) -> int | None:
    """The number of data rows when nothing in the file could make the two parsers disagree.

    See the module docstring for what that means; ``None`` when something could.
    """
    compressed = file.suffix.lower() in (".gz", ".bz2", ".zip", ".xz", ".zst")
    if compressed or len(delimiter) != 1 or delimiter in ('"', " ", "\n", "\r"):
        return None
    sep = delimiter.encode()
    # single bytes first (memchr speed); the pairs only where a space can be next to something
    singles = [b'"', b"\r", *([b"\t"] if delimiter != "\t" else [])]
    spaced = [sep + b" ", b" " + sep, b"\n ", b" \n"]
    header = b""
    lines = 0
    previous = b"\n"  # the file starts as if after a line end: a leading space or blank line counts
    with open(file, "rb") as handle:  # read in blocks: a mapped file would count in the peak RSS
        while block := handle.read(_SCAN_BLOCK):
            if not header:
                if block.startswith(b"\xef\xbb\xbf"):
                    return None
                header = block.split(b"\n", 1)[0]
            if any(block.find(pattern) >= 0 for pattern in singles):
                return None
            joined = previous + block
            if joined.find(b"\n\n") >= 0:
                return None
            if joined.find(b" ") >= 0 and any(joined.find(pattern) >= 0 for pattern in spaced):
                return None
            lines += block.count(b"\n")
            previous = block[-1:]
    if not header or previous == b" ":
        return None
    names = header.split(sep)
    if not all(names) or len(set(names)) != len(names):
        return None
    return lines - 1 + (previous != b"\n")


def _fast_csv(file: Path, delimiter: str, float32: bool, keep: Collection[str]) -> pandas.DataFrame | None:
    """The CSV read by pyarrow, or ``None`` where pandas' C parser must read it."""
    rows = _plain_rows(file, delimiter)
    if not rows:
        return None
    import pyarrow as pa

    try:
        reader = _open_csv(file, delimiter, quoted=False)
        schema = reader.schema
        if not all(_allowed(f.type) for f in schema):
            return None
        # numbers go batch by batch into numpy arrays of the final size (float32 where asked), so
        # that a batch's Arrow buffers are freed as soon as it is copied; strings and booleans
        # stay Arrow until the end
        columns: list[Any] = []
        for f in schema:
            if pa.types.is_int64(f.type):
                columns.append(np.empty(rows, dtype=np.int64))
            elif pa.types.is_float64(f.type) or pa.types.is_null(f.type):
                small = float32 and f.name not in keep
                columns.append(np.empty(rows, dtype=np.float32 if small else np.float64))
            else:
                columns.append([])  # Arrow chunks
        start = 0
        for batch in reader:
            stop = start + batch.num_rows
            if stop > rows:
                return None
            for i, column in enumerate(batch.columns):
                if isinstance(columns[i], list):
                    columns[i].append(column)
                elif pa.types.is_null(column.type):
                    columns[i][start:stop] = np.nan
                else:
                    if (
                        column.null_count and columns[i].dtype == np.int64
                    ):  # ints with gaps: floats, as in pandas
                        small = float32 and schema[i].name not in keep
                        columns[i] = columns[i].astype(np.float32 if small else np.float64)
                    columns[i][start:stop] = column.to_numpy(zero_copy_only=False)  # nulls become NaN
            start = stop
            del batch
    except (pa.ArrowException, OSError, UnicodeDecodeError):  # a ragged row, a type that changes, not UTF-8
        return None
    finally:
        pa.default_memory_pool().release_unused()  # the parser's buffers back to the system, not kept
    if start != rows:
        return None
    data: dict[str, Any] = {}
    for i, name in enumerate(schema.names):
        column, columns[i] = columns[i], None
        if isinstance(column, list):
            array = pa.chunked_array(column, type=schema[i].type)
            if pa.types.is_boolean(array.type) and array.null_count:
                return None  # pandas makes an object column of True/False/NaN; pyarrow would give None
            column = array.to_pandas()
        data[name] = column
    frame = pd.DataFrame(data, copy=False)  # one block per column, no consolidating copy
    del data
    return frame if _agrees_with_pandas(frame, file, delimiter) else None


def _open_csv(file: Path, delimiter: str, quoted: bool, columns: list[str] | None = None) -> Any:
    """The streaming CSV reader of pyarrow, single-threaded, with pandas' missing-value markers.

    ``quoted``: whether quotes are parsed (a plain file has none); ``columns``: convert only these.
    """
    import pyarrow.csv as csv
    from pandas._libs.parsers import STR_NA_VALUES

    return csv.open_csv(
        file,
        read_options=csv.ReadOptions(block_size=_BLOCK, use_threads=False),
        parse_options=csv.ParseOptions(delimiter=delimiter, quote_char='"' if quoted else False),
        convert_options=csv.ConvertOptions(
            include_columns=columns, null_values=sorted(STR_NA_VALUES), strings_can_be_null=True
        ),
    )


def _allowed(kind: Any) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_int64(kind)
        or pa.types.is_float64(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def _agrees_with_pandas(frame: pandas.DataFrame, file: Path, delimiter: str) -> bool:
    """Whether the first rows are, cell by cell, what pandas' C parser reads.

    Floats are compared after the same conversion, so float32 columns compare as float32.
    """
    try:
        head = pd.read_csv(file, sep=delimiter, skipinitialspace=True, nrows=_CHECK_ROWS)
    except (ValueError, OSError, UnicodeDecodeError):
        return False
    if list(head.columns) != list(frame.columns) or len(head) != min(len(frame), _CHECK_ROWS):
        return False
    fast = frame.iloc[: len(head)]
    for column in head.columns:
        ours, theirs = fast[column], head[column]
        if pd.api.types.is_numeric_dtype(ours) and not pd.api.types.is_bool_dtype(ours):
            if not pd.api.types.is_numeric_dtype(theirs) or pd.api.types.is_bool_dtype(theirs):
                return False
            a = ours.to_numpy(dtype=ours.dtype if ours.dtype == np.float32 else np.float64)
            b = theirs.to_numpy(dtype=a.dtype)
            if not np.array_equal(a, b, equal_nan=True):
                return False
        elif ours.dtype != theirs.dtype or not ours.equals(theirs):
            return False
    return True
