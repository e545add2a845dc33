"""Reading a channel's files into arrays, and a request body into features.

A channel is every regular file under its directory, recursively, in name
order (names starting with ``.`` or ``_`` are skipped — ``_SUCCESS``,
``.crc``). Content types compare case-insensitively, ignoring parameters
except ``label_size``:

- ``text/csv`` — no header; the label is the FIRST column for a supervised
  algorithm; an unsupervised one reads ``text/csv;label_size=1`` as "the first
  column is a label" (RCF's test channel) and ``label_size=0`` (the default) as
  features only;
- ``application/x-parquet`` — the first column is the label, as for CSV;
- ``text/libsvm`` — through scikit-learn's ``load_svmlight_files``;
- ``application/jsonlines`` — one ``{"label": y, "features": [...]}`` per line.

Arrays are float32 and dense: this is for data that fits in memory, not Pipe
mode streaming. numpy, pandas and scikit-learn are imported inside the
functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float32]

__all__ = ["DataError", "files", "media_type", "read_channel", "request_features"]


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """``"Text/CSV; label_size=1"`` → ``("text/csv", {"label_size": "1"})``."""
    base, *params = content_type.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, value = param.partition("=")
        if key.strip():
            parsed[key.strip().lower()] = value.strip().strip('"')
    return base.strip().lower(), parsed


class DataError(ValueError):
    """The channel's data cannot be used; the message becomes the job's FailureReason."""


def files(folder: Path) -> list[Path]:
    """Every regular file under ``folder``, recursively, in order; hidden and ``_``-names skipped."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(part.startswith((".", "_")) for part in parts):
            continue
        if path.is_file():
            found.append(path)
    return found


def label_columns(content_type: str, supervised: bool) -> int:
    """How many leading columns are labels: 1 for supervised data, else ``label_size`` (default 0)."""
    _, params = media_type(content_type)
    if supervised:
        return 1
    try:
        size = int(params.get("label_size", "0"))
    except ValueError:
        raise DataError(f"label_size must be 0 or 1 in content type '{content_type}'") from None
    if size not in (0, 1):
        raise DataError(f"label_size must be 0 or 1 in content type '{content_type}'")
    return size


def read_channel(folder: Path, content_type: str, supervised: bool, channel: str = "train"
                 ) -> tuple[Array, Array | None]:
    """The channel's features and labels (``None`` when it has no label column)."""
    import numpy as np

    base, _ = media_type(content_type)
    has_label = label_columns(content_type, supervised) == 1
    paths = [p for p in files(folder) if p.stat().st_size > 0]
    if not paths:
        raise DataError(f"channel '{channel}' has no data: no non-empty file under {folder.name}/")
    if base == "text/libsvm":
        X, y = _libsvm(paths, channel)
        if not has_label:
            return X, None
        return X, _check_labels(y, channel)
    if base == "text/csv":
        table = np.concatenate([_csv(p, channel) for p in paths])
    elif base == "application/x-parquet":
        table = np.concatenate([_parquet(p, channel) for p in paths])
    elif base == "application/jsonlines":
        return _jsonlines(paths, channel, has_label)
    else:
        raise DataError(f"channel '{channel}': content type '{content_type}' is not supported here "
                        "(text/csv, text/libsvm, application/x-parquet, application/jsonlines)")
    if table.shape[0] == 0:
        raise DataError(f"channel '{channel}' has no rows")
    if not has_label:
        return np.ascontiguousarray(table), None
    if table.shape[1] < 2:
        raise DataError(f"channel '{channel}' has {table.shape[1]} column; a supervised algorithm needs at least "
                        "2: the label must be the first column, the features after it")
    return np.ascontiguousarray(table[:, 1:]), _check_labels(table[:, 0], channel)


def _check_labels(y: Array, channel: str) -> Array:
    import numpy as np

    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise DataError(f"channel '{channel}': the label (first column) is missing or not a number in row "
                        f"{int(bad[0]) + 1} ({bad.size} rows in all)")
    return y


def _csv(path: Path, channel: str) -> Array:
    import numpy as np
    import pandas as pd

    try:
        frame = pd.read_csv(path, header=None, dtype=np.float32, engine="c", skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        return np.empty((0, 0), dtype=np.float32)
    except pd.errors.ParserError as exc:
        raise DataError(f"channel '{channel}': file {path.name} is not valid CSV ({str(exc).strip()})") from None
    except ValueError as exc:
        raise DataError(f"channel '{channel}': file {path.name} has a value that is not a number ({exc}); "
                        "text/csv data must be all numbers, without a header, the label first") from None
    table: Array = frame.to_numpy(dtype=np.float32)
    return table


def _parquet(path: Path, channel: str) -> Array:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(path)
    try:
        table: Array = frame.to_numpy(dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise DataError(f"channel '{channel}': file {path.name} has a non-numeric column ({exc})") from None
    return table


def _libsvm(paths: list[Path], channel: str) -> tuple[Array, Array]:
    import numpy as np
    from sklearn.datasets import load_svmlight_files

    try:
        loaded = load_svmlight_files([str(p) for p in paths], dtype=np.float32, zero_based=True)
    except ValueError as exc:
        raise DataError(f"channel '{channel}': not valid libsvm data ({exc})") from None
    xs = [loaded[i].toarray() for i in range(0, len(loaded), 2)]
    ys = [np.asarray(loaded[i], dtype=np.float32) for i in range(1, len(loaded), 2)]
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys)


def _jsonlines(paths: list[Path], channel: str, has_label: bool) -> tuple[Array, Array | None]:
    import numpy as np

    features: list[list[float]] = []
    labels: list[float] = []
    for path in paths:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                features.append([float(v) for v in record["features"]])
                if has_label:
                    labels.append(float(record["label"]) if record.get("label") is not None else float("nan"))
            except (ValueError, KeyError, TypeError) as exc:
                raise DataError(f"channel '{channel}': {path.name} line {number} is not "
                                f'{{"label": <number>, "features": [<numbers>]}} ({exc})') from None
    if not features:
        raise DataError(f"channel '{channel}' has no rows")
    try:
        X = np.asarray(features, dtype=np.float32)
    except ValueError:
        raise DataError(f"channel '{channel}': rows have different numbers of features") from None
    y = _check_labels(np.asarray(labels, dtype=np.float32), channel) if has_label else None
    return X, y


def request_features(body: bytes, content_type: str) -> Array:
    """The rows of an inference request: CSV without a label, JSON ``{"instances": [...]}`` or JSON lines."""

    base, _ = media_type(content_type or "text/csv")
    try:
        if base == "text/csv":
            if not body.strip():
                raise DataError("the request body is empty")
            return _csv_request(body)
        if base == "application/json":
            payload = json.loads(body)
            rows = payload.get("instances", payload.get("features")) if isinstance(payload, dict) else payload
            return _rows(rows)
        if base == "application/jsonlines":
            return _rows([json.loads(line) for line in body.decode().splitlines() if line.strip()])
    except (ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot read the request as {base}: {exc}") from None
    raise DataError(f"request content type '{content_type}' is not supported "
                    "(text/csv, application/json, application/jsonlines)")


#: Request bodies up to this size are read by ``np.loadtxt`` first (see :func:`_csv_request`).
SMALL_CSV_BYTES = 64 * 1024
#: Beyond this magnitude Arrow's int64 → float32 and loadtxt's float64 → float32 may round an integer apart.
_EXACT_INTEGERS = 2.0**53


def _csv_request(body: bytes) -> Array:
    """CSV rows of numbers, as Arrow's reader reads them (:func:`_csv_arrow`).

    A small body is read by ``np.loadtxt`` first (:func:`_csv_small`): Arrow's reader costs 0.3 ms before its
    first row, loadtxt 5 µs for a row of ten numbers — most of a one-row request's time on an endpoint."""
    if len(body) <= SMALL_CSV_BYTES:
        rows = _csv_small(body)
        if rows is not None:
            return rows
    return _csv_arrow(body)


def _csv_small(body: bytes) -> Array | None:
    """The body's rows read by ``np.loadtxt``, where they are exactly Arrow's, else None.

    loadtxt refuses what Arrow reads differently — empty fields (missing values to Arrow), quoted numbers,
    Arrow's null words other than ``nan``, booleans — and Arrow then decides and words any error; a negative
    zero (0 to Arrow in a column of integers) and a number beyond ±2^53 are left to Arrow too. Both read a
    number as float64, then round it to float32; a NaN is Arrow's one NaN."""
    import io

    import numpy as np

    try:
        rows = np.loadtxt(io.BytesIO(body.strip()), delimiter=",", dtype=np.float64, ndmin=2, comments=None,
                          quotechar=None)
    except ValueError:
        return None
    with np.errstate(invalid="ignore"):
        if not rows.size or (np.abs(rows) >= _EXACT_INTEGERS).any() or np.signbit(rows[rows == 0]).any():
            return None
    exact: Array = rows.astype(np.float32)
    missing = np.isnan(exact)
    if missing.any():
        exact[missing] = np.nan  # Arrow's missing value, whatever the sign ("-nan")
    return exact


def _csv_arrow(body: bytes) -> Array:
    """CSV rows of numbers, parsed by Arrow's reader (ten times as fast as ``np.loadtxt`` on large requests)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    # Arrow's errors are ValueErrors: the caller names the content type
    table = pcsv.read_csv(pa.BufferReader(body.strip() + b"\n"), read_options=pcsv.ReadOptions(
        autogenerate_column_names=True), convert_options=pcsv.ConvertOptions(strings_can_be_null=False))
    columns = [c.to_numpy(zero_copy_only=False).astype(np.float32) for c in table.columns]
    return np.column_stack(columns) if columns else np.empty((0, 0), dtype=np.float32)


def _rows(rows: Any) -> Array:
    import numpy as np

    if not isinstance(rows, list) or not rows:
        raise DataError('expected {"instances": [{"features": [...]}, ...]} or a list of rows')
    if isinstance(rows[0], dict):
        rows = [r["data"]["features"]["values"] if "data" in r else r["features"] for r in rows]
    elif not isinstance(rows[0], list):
        rows = [rows]
    return np.asarray(rows, dtype=np.float32)
