"""``GetQueryResults`` (Athena): a finished query's rows, a page at a time, read from its CSV in the lake.

The results are not held anywhere but in the lake file ``<output>/<id>.csv``
(Athena's CSV, see ``results_csv.py``), read through the lake as the caller
(so reading results needs ``lake:GetObject`` on them, as in Athena). A page is
one ranged read from the byte offset its NextToken holds — more only when a
row is longer than the read — so results larger than memory stream page by
page. As in Athena, the first page of a SELECT starts with the header row
(``MaxResults`` counts it), and a CTAS or INSERT has no rows but an
``UpdateCount``. Column names and types come from the execution's record
(``ResultSetMetadata.ColumnInfo``).
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from crispml.core import paging
from crispml.core.context import CallContext
from crispml.core.errors import NotFound
from crispml.services.lake.service import GetObjectRequest, LakeService
from crispml.services.query.entities import ColumnInfo, ResultSet, ResultSetMetadata
from crispml.services.query.errors import InvalidRequestException, ResourceNotFoundException
from crispml.services.query.executions import ExecutionOps, execution_crn
from crispml.services.query.specs import GetQueryResultsRequest, GetQueryResultsResponse
from crispml.spine.operations import operation

#: Bytes read per page at first: enough for 1,000 rows of a few hundred bytes.
_FIRST_READ = 256 * 1024


class ResultOps(ExecutionOps):
    @operation("GetQueryResults", resource=lambda r: execution_crn(r.query_execution_id), mutating=False)
    def get_query_results(self, ctx: CallContext, request: GetQueryResultsRequest) -> GetQueryResultsResponse:
        """Read a finished query's rows, a page at a time (the header is the first row of the first page)."""
        row = self._current(request.query_execution_id)
        if row.state != "SUCCEEDED":
            if row.state in ("QUEUED", "RUNNING"):
                raise InvalidRequestException(
                    f"query {row.query_execution_id} has not yet finished (current state: {row.state}); "
                    "poll GetQueryExecution until it is SUCCEEDED")
            why = f": {row.state_change_reason}" if row.state_change_reason else ""
            raise InvalidRequestException(
                f"query {row.query_execution_id} did not finish successfully (final state: {row.state}){why}")
        metadata = ResultSetMetadata(column_info=[ColumnInfo.model_validate(c)
                                                  for c in json.loads(row.result_columns or "[]")])
        if row.update_count is not None or row.result_bytes is None:
            return GetQueryResultsResponse(update_count=row.update_count or 0,
                                           result_set=ResultSet(rows=[], result_set_metadata=metadata))
        offset = _offset(request.next_token, row.query_execution_id, row.result_bytes)
        with _collector_paused():
            records, end = self._page(self.peer(LakeService), ctx, row.output_location, offset, row.result_bytes,
                                      request.max_results)
            # one validation of the whole page (pydantic builds the nested rows in one call; a model per value
            # built in Python costs twice as much on a page of a thousand rows)
            result_set = ResultSet.model_validate({"rows": [{"data": [{"var_char_value": v} for v in r]}
                                                            for r in records], "result_set_metadata": metadata})
        return GetQueryResultsResponse(
            result_set=result_set,
            next_token=paging.encode_token({"q": row.query_execution_id, "o": end}) if end < row.result_bytes
            else None)

    @staticmethod
    def _page(lake: LakeService, ctx: CallContext, location: str, offset: int, size: int,
              limit: int) -> tuple[list[list[str | None]], int]:
        """Up to ``limit`` records of the CSV from ``offset``, and the offset after the last."""
        from crispml.services.query import results_csv  # imports pyarrow: on the first page read

        if offset >= size:
            return [], offset
        bucket, _, key = location[len("lake://"):].partition("/")
        data, read_to, want = b"", offset, _FIRST_READ
        while True:
            last = min(size, read_to + want)
            try:
                with lake.get_object(ctx, GetObjectRequest(bucket=bucket, key=key,
                                                           range=f"bytes={read_to}-{last - 1}")).body as body:
                    data += body.read()
            except NotFound as exc:
                raise ResourceNotFoundException(
                    f"the results of this query are gone from the lake ({location}): {exc.message}") from exc
            read_to = last
            final = read_to >= size
            records, used = results_csv.parse_records(data, limit, final=final)
            if len(records) == limit or final:
                return records, offset + used
            want *= 2  # a row longer than the read: read on


_paused = 0
_paused_lock = threading.Lock()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a page is built (if it was running; the last of several
    threads building pages at once starts it again). A page of a thousand rows is some 5,000 objects that all
    stay alive until the caller has read it: collected on the way, they were traversed by collection after
    collection and pushed into the oldest generation, which then had to be scanned whole every few dozen
    queries — 4–5 ms a query of 320 rows in a process holding the platform. Nothing the page builds is garbage,
    so the collector has nothing to find there."""
    global _paused
    with _paused_lock:
        if _paused == 0:
            _paused = -1 if not gc.isenabled() else 1  # -1: it was off; leave it so
            gc.disable()
        elif _paused > 0:
            _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            if _paused > 1:
                _paused -= 1
            elif _paused == 1:
                _paused = 0
                gc.enable()
            else:
                _paused = 0


def _offset(token: str | None, query_execution_id: str, size: int) -> int:
    if token is None:
        return 0
    try:
        position = paging.decode_token(token)
    except ValueError:
        position = None
    if (not isinstance(position, dict) or position.get("q") != query_execution_id
            or not isinstance(position.get("o"), int) or not 0 <= position["o"] <= size):
        raise InvalidRequestException(
            "NextToken is not valid for this query; pass the one the previous page of its results returned")
    offset: int = position["o"]
    return offset
