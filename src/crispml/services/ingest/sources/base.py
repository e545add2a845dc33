"""What every source hands the loader: batches of rows with where they came from, and counters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa


class StopRequested(Exception):
    """BatchStopJobRun asked the run to end; nothing was committed."""


@dataclass
class Piece:
    """One batch of source rows: ``origin`` names the file or source table, ``first_row`` the 1-based
    number of the batch's first row in it (for error messages)."""

    data: pa.Table
    origin: str
    first_row: int


@dataclass
class Progress:
    """What a run has read so far; sources add to it as they go."""

    rows_read: int = 0
    bytes_read: int = 0
    files_read: int = 0


class Source(Protocol):
    """A source of rows for one run."""

    def pieces(self, progress: Progress) -> Iterator[Piece]:
        """The rows, a batch at a time."""
        ...

    def bookmark_after(self) -> dict[str, Any] | None:
        """The job bookmark once every piece was read (None: the source keeps none)."""
        ...

    def columns(self) -> list[tuple[str, str]]:
        """The source's columns with Glue (Hive) types, for a target table the run creates."""
        ...
