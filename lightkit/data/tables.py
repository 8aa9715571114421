"""Reading one table from CSV, Parquet or Feather into a pandas DataFrame, lean on memory.

:func:`read_table` picks the format from the file's suffix (``.parquet``/``.pq``, ``.feather``/
``.arrow``/``.ipc``, anything else is CSV) unless told. Parquet and Feather are read with pyarrow
one column at a time, each converted into its frame column before the next is read, so the peak
is the frame and one column (an uncompressed Feather file from a memory map that is closed after
each column; a file the column reader does not open, such as Feather V1, is read whole as before).
:func:`read_columns` reads a few columns alone: the targets, so that the rows can be split before
the table is read.

A CSV is read by pandas' C parser in chunks, each chunk's numbers copied into columns of the
final size, so the peak is the table and one chunk rather than the whole read's float64 chunks
and their concatenation. The cells are the C parser's, with the options of the whole read; a
column whose type changes from chunk to chunk (beyond integers that gain a gap), a parse error
or a byte that is not UTF-8 leaves the file to the whole read, so messy files behave and fail as
they always did, with line and column (and with their warnings: a chunk that warns is read
again whole). pandas' pyarrow engine is not used for the table: on the machine measured it was
slower than the C parser (docs/benchmarks.md); :func:`read_columns` parses a CSV with pyarrow's
streaming reader, which converts only the columns asked for.

With ``float32`` set, floating-point columns come out as float32 (all but the ``keep`` columns,
such as targets): the same rounding the preprocessing applies anyway, at half the memory. Frames
from these readers hold one block per column, so a column dropped from the frame frees its memory.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lightkit.data.heap import release_free_memory
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
#: the most rows per chunk of pandas' C parser (a chunk's frame and the parser's buffers are the
#: read's working set: about 22 MB at 64k rows of 33 numbers, 3 MB at 4k; more rows, fewer calls)
_CHUNK_ROWS = 1 << 16
#: the fewest rows per chunk: a table of under 16 of these is read in chunks of this size
_MIN_CHUNK_ROWS = 1 << 13
#: bytes per block of pyarrow's streaming CSV reader (the targets-only read): its buffers grow
#: with the block, not its speed
_BLOCK = 128 << 10
#: bytes per block of the line count (:func:`_scan`), freed block by block
_COUNT_BLOCK = 1 << 20


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
        frame = _chunked_csv(file, delimiter, float32, keep)
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
    """The columns ``names`` of a CSV, every row parsed and only these converted (pyarrow).

    pyarrow's streaming reader, single-threaded, with pandas' missing-value markers.
    """
    import pyarrow as pa
    import pyarrow.csv as csv
    from pandas._libs.parsers import STR_NA_VALUES

    reader = csv.open_csv(
        file,
        read_options=csv.ReadOptions(block_size=_BLOCK, use_threads=False),
        parse_options=csv.ParseOptions(delimiter=delimiter, quote_char='"'),
        convert_options=csv.ConvertOptions(
            include_columns=names, null_values=sorted(STR_NA_VALUES), strings_can_be_null=True
        ),
    )
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


def _scan(file: Path) -> tuple[int, bool]:
    """Lines in ``file`` (a last line without a line end counts) and whether any space or tab is in it.

    The lines are at least the CSV's rows plus one; without spaces and tabs, pandas'
    ``skipinitialspace`` has nothing to skip (and the C parser is a fifth faster without it).
    """
    lines, last, spaced = 0, b"\n", False
    with open(file, "rb") as handle:  # read in blocks: a mapped file would count in the peak RSS
        while block := handle.read(_COUNT_BLOCK):
            lines += block.count(b"\n")
            spaced = spaced or block.find(b" ") >= 0 or block.find(b"\t") >= 0
            last = block[-1:]
    return lines + (last != b"\n"), spaced


def _chunked_csv(file: Path, delimiter: str, float32: bool, keep: Collection[str]) -> pandas.DataFrame | None:
    """The CSV as pandas' C parser reads it whole, read in chunks; ``None`` where the whole read must decide.

    Numbers go chunk by chunk into numpy columns of the final size (float32 where asked), so the
    peak is the table plus one chunk: the whole read holds every column in float64 chunks, then
    their concatenation (2M x 33 numbers: +1.5 GB for a 244 MB table, +0.28 GB this way). The
    cells are the C parser's with the same options; only the columns' types are decided per
    chunk, so a column must have one type in every chunk (integers with a gap later on become
    floats, as in the whole read). Anything else (a column that changes type, a parse error, a
    row past the line count, such as a file whose lines end in a bare carriage return) is left to
    the whole read, which behaves and fails as it always did.
    """
    lines, spaced = _scan(file)
    capacity = lines - 1  # the header is a line; blank lines and quoted line ends are not rows
    numbers: dict[str, Any] = {}  # name -> numpy column of ``capacity`` rows
    others: dict[str, list[Any]] = {}  # strings and booleans: the chunks, joined at the end
    names: list[str] = []
    rows = 0
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            # about a sixteenth of the table per chunk, so that the working set is small beside it
            chunk_rows = min(_CHUNK_ROWS, max(_MIN_CHUNK_ROWS, capacity // 16))
            with pd.read_csv(file, sep=delimiter, skipinitialspace=spaced, chunksize=chunk_rows) as reader:
                for chunk in reader:
                    stop = rows + len(chunk)
                    if stop > capacity:
                        return None
                    names = names or list(chunk.columns)
                    for name, values in chunk.items():
                        small = float32 and name not in keep
                        if not _add_chunk(name, values, rows, stop, numbers, others, capacity, small):
                            return None
                    rows = stop
                    del chunk
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError):
        return None
    if warned:
        return None  # e.g. mixed types in a column: the whole read says so, as it always did
    if not rows:
        return None  # a header without rows: the whole read gives the frame the message is about
    data = {}
    for name in names:
        if name in numbers:
            data[name] = numbers.pop(name)[:rows]
        else:
            data[name] = pd.concat(others.pop(name), ignore_index=True)
    release_free_memory()  # the chunks' memory, below glibc's mapping threshold, back to the system
    return pd.DataFrame(data, copy=False)  # one block per column, no consolidating copy


def _add_chunk(
    name: str,
    values: pandas.Series,
    start: int,
    stop: int,
    numbers: dict[str, Any],
    others: dict[str, list[Any]],
    capacity: int,
    small: bool,
) -> bool:
    """Put one chunk of a column in place; ``False`` if its type differs from the earlier chunks'."""
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else None
    if kind in ("i", "f"):
        if name in others:
            return False
        column = numbers.get(name)
        if column is None:
            if start:
                return False  # earlier chunks were not numbers
            dtype = np.int64 if kind == "i" else (np.float32 if small else np.float64)
            column = numbers[name] = np.empty(capacity, dtype=dtype)
        elif kind == "f" and column.dtype == np.int64:
            # integers until now, a gap here: floats, as the whole read makes of the column
            column = numbers[name] = column.astype(np.float32 if small else np.float64)
        if kind == "i" and values.dtype != np.int64:
            return False  # an unsigned or narrower integer column: the whole read decides
        column[start:stop] = values.to_numpy()
        return True
    if name in numbers or (start and name not in others):
        return False
    parts = others.setdefault(name, [])
    if parts and parts[0].dtype != values.dtype:
        return False  # e.g. booleans, then booleans with a gap (objects)
    parts.append(values)
    return True
