"""Crawler and custom-classifier operations (Glue crawlers), and a crawler's life cycle.

``StartCrawler`` runs the crawl in the calling process and returns when it is
done (``crawl.py``), rather than queueing it for a background worker: the
embedded platform has no long-lived process to hand it to, a crawl is
short I/O-bound work, and the caller's identity is right there to act with.
What Glue's asynchronous API promises still holds, because the state lives in
the database, not in the process: the crawler is ``RUNNING`` (committed before
the crawl starts) for every other caller while it runs, a second
``StartCrawler`` is refused with ``CrawlerRunningException``, ``StopCrawler``
from anywhere sets ``STOPPING`` and the crawl ends ``CANCELLED`` at its next
checkpoint (between tables), and the crawler is ``READY`` again at the end.

A crawl records its owner (``host:pid``) and a heartbeat. If that process
dies mid-crawl, the next access to the crawler (any operation on it) finds
the owner gone — on this host by its pid, elsewhere by a heartbeat older than
:data:`STALE_AFTER` — and closes the crawl as ``FAILED`` with the crawler
``READY``, so nothing stays stuck in ``RUNNING``.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.errors import CrispmlError
from crispml.core.ids import new_id
from crispml.core.names import crn
from crispml.core.owners import owner_alive, process_owner
from crispml.services.catalog.classifiers import ClassifierOps, classifier_row
from crispml.services.catalog.core import decode_token, dumps, encode_token, loads
from crispml.services.catalog.crawler_specs import (
    CrawlerRequest,
    CreateCrawlerRequest,
    EmptyCrawlerResponse,
    GetCrawlerMetricsRequest,
    GetCrawlerMetricsResponse,
    GetCrawlerResponse,
    GetCrawlersRequest,
    GetCrawlersResponse,
    ListCrawlersResponse,
    ListCrawlsRequest,
    ListCrawlsResponse,
    UpdateCrawlerRequest,
    check_policies,
)
from crispml.services.catalog.crawler_store import CrawlerRow, CrawlRow
from crispml.services.catalog.entities import (
    Crawl,
    Crawler,
    CrawlerMetrics,
    CrawlState,
    CrawlSummary,
    LastCrawlInfo,
    LastCrawlStatus,
    RecrawlPolicy,
    SchemaChangePolicy,
)
from crispml.services.catalog.errors import (
    AlreadyExistsException,
    CrawlerNotRunningException,
    CrawlerRunningException,
    CrawlerStoppingException,
    EntityNotFoundException,
)
from crispml.spine.operations import operation

if TYPE_CHECKING:
    from crispml.services.catalog.service import CatalogService

STALE_AFTER = timedelta(minutes=10)
_LAST_STATUS = {"COMPLETED": "SUCCEEDED", "STOPPED": "CANCELLED", "FAILED": "FAILED"}


def crawler_crn(name: str | None) -> str:
    return crn("catalog", f"crawler/{name or '*'}")


class CrawlerOps(ClassifierOps):
    """Crawlers: definitions, runs, state and metrics."""

    # -- crawler definitions -------------------------------------------------------------

    @operation("CreateCrawler", resource=lambda r: crawler_crn(r.name))
    def create_crawler(self, ctx: CallContext, request: CreateCrawlerRequest) -> EmptyCrawlerResponse:
        """Create a crawler over lake prefixes that keeps a database's tables in line with the files."""
        def work(session: Session) -> None:
            if session.get(CrawlerRow, request.name) is not None:
                raise AlreadyExistsException(f"crawler {request.name!r} already exists")
            self._check_classifiers(session, request.classifiers)
            now = self.clock.now()
            session.add(CrawlerRow(name=request.name, document=dumps(request.model_dump(mode="json")),
                                   state="READY", version=1, created_at=now, updated_at=now))

        self._writing(work)
        return EmptyCrawlerResponse()

    @operation("GetCrawler", resource=lambda r: crawler_crn(r.name), mutating=False)
    def get_crawler(self, ctx: CallContext, request: CrawlerRequest) -> GetCrawlerResponse:
        """Show a crawler: definition, state, and how its last crawl ended."""
        self._settle([request.name])
        with self._reading() as session:
            return GetCrawlerResponse(crawler=self._crawler_entity(session, self._crawler(session, request.name)))

    @operation("GetCrawlers", resource=lambda r: crawler_crn(None), mutating=False)
    def get_crawlers(self, ctx: CallContext, request: GetCrawlersRequest) -> GetCrawlersResponse:
        """List crawlers with their definitions and states, a page at a time."""
        self._settle(None)
        rows, token = self._page(CrawlerRow, request.next_token, request.max_results)
        with self._reading() as session:
            return GetCrawlersResponse(crawlers=[self._crawler_entity(session, r) for r in rows], next_token=token)

    @operation("ListCrawlers", resource=lambda r: crawler_crn(None), mutating=False)
    def list_crawlers(self, ctx: CallContext, request: GetCrawlersRequest) -> ListCrawlersResponse:
        """List the crawlers' names, a page at a time."""
        rows, token = self._page(CrawlerRow, request.next_token, request.max_results)
        return ListCrawlersResponse(crawler_names=[r.name for r in rows], next_token=token)

    @operation("UpdateCrawler", resource=lambda r: crawler_crn(r.name))
    def update_crawler(self, ctx: CallContext, request: UpdateCrawlerRequest) -> EmptyCrawlerResponse:
        """Change a crawler's definition (not while it runs); fields left out keep their value."""
        self._settle([request.name])

        def work(session: Session) -> None:
            row = self._idle(self._crawler(session, request.name, lock=True))
            changes = request.model_dump(mode="json", exclude_unset=True, exclude={"name"})
            document = {**loads(row.document), **changes}
            check_policies(SchemaChangePolicy.model_validate(document["schema_change_policy"]),
                           RecrawlPolicy.model_validate(document["recrawl_policy"]))
            self._check_classifiers(session, document.get("classifiers") or [])
            row.document, row.version, row.updated_at = dumps(document), row.version + 1, self.clock.now()

        self._writing(work)
        return EmptyCrawlerResponse()

    @operation("DeleteCrawler", resource=lambda r: crawler_crn(r.name))
    def delete_crawler(self, ctx: CallContext, request: CrawlerRequest) -> EmptyCrawlerResponse:
        """Delete a crawler and its crawl history (not while it runs); its tables stay."""
        self._settle([request.name])

        def work(session: Session) -> None:
            row = self._idle(self._crawler(session, request.name, lock=True))
            for crawl in session.scalars(select(CrawlRow).where(CrawlRow.crawler == row.name)):
                session.delete(crawl)
            session.delete(row)

        self._writing(work)
        return EmptyCrawlerResponse()

    # -- running -----------------------------------------------------------------------------

    @operation("StartCrawler", resource=lambda r: crawler_crn(r.name))
    def start_crawler(self, ctx: CallContext, request: CrawlerRequest) -> EmptyCrawlerResponse:
        """Run a crawl now, as the caller; returns when it has ended (see GetCrawler's LastCrawl)."""
        self._settle([request.name])
        crawl_id = new_id("crawl")

        def claim(session: Session) -> dict[str, Any]:
            row = self._idle(self._crawler(session, request.name, lock=True))
            now = self.clock.now()
            row.state, row.owner, row.heartbeat_at = "RUNNING", process_owner(), now
            session.add(CrawlRow(crawl_id=crawl_id, crawler=row.name, state="RUNNING", started_at=now,
                                 tables_created=0, tables_updated=0, tables_deleted=0, partitions_added=0,
                                 summary="{}"))
            return dict(loads(row.document))

        definition = self._writing(claim)
        from crispml.services.catalog.crawl import (  # pyarrow and the classifiers: here
            CrawlCancelled,
            CrawlReadNothing,
            CrawlRun,
        )

        run = CrawlRun(cast("CatalogService", self), ctx, crawl_id, definition, lambda: self._checkpoint(request.name))
        started = time.perf_counter()
        state, error = "COMPLETED", None
        read_nothing: CrawlReadNothing | None = None
        try:
            run.run()
        except CrawlCancelled:
            state = "STOPPED"
        except CrispmlError as exc:
            state, error = "FAILED", exc.message
            read_nothing = exc if isinstance(exc, CrawlReadNothing) else None
        except BaseException as exc:
            self._finish(request.name, crawl_id, "FAILED", f"{type(exc).__name__}: {exc}", run.summary,
                         time.perf_counter() - started)
            raise
        self._finish(request.name, crawl_id, state, error, run.summary, time.perf_counter() - started)
        if read_nothing is not None:  # the caller is told, not only LastCrawl: "done" would hide it
            raise read_nothing
        return EmptyCrawlerResponse()

    @operation("StopCrawler", resource=lambda r: crawler_crn(r.name))
    def stop_crawler(self, ctx: CallContext, request: CrawlerRequest) -> EmptyCrawlerResponse:
        """Ask a running crawl to stop: STOPPING now, READY with LastCrawl CANCELLED at its next checkpoint."""
        self._settle([request.name])

        def work(session: Session) -> None:
            row = self._crawler(session, request.name, lock=True)
            if row.state == "STOPPING":
                raise CrawlerStoppingException(f"crawler {row.name!r} is already stopping")
            if row.state != "RUNNING":
                raise CrawlerNotRunningException(f"crawler {row.name!r} is not running (state {row.state})")
            row.state = "STOPPING"

        self._writing(work)
        return EmptyCrawlerResponse()

    @operation("GetCrawlerMetrics", resource=lambda r: crawler_crn(None), mutating=False)
    def get_crawler_metrics(self, ctx: CallContext, request: GetCrawlerMetricsRequest) -> GetCrawlerMetricsResponse:
        """Tables created, updated and deleted by each crawler's last crawl, and its run times."""
        self._settle(request.crawler_name_list or None)
        after = decode_token(request.next_token)
        with self._reading() as session:
            query = select(CrawlerRow)
            if request.crawler_name_list:
                for name in request.crawler_name_list:
                    self._crawler(session, name)
                query = query.where(CrawlerRow.name.in_(request.crawler_name_list))
            if after is not None:
                query = query.where(CrawlerRow.name > str(after))
            rows = list(session.scalars(query.order_by(CrawlerRow.name).limit(request.max_results + 1)))
            page, more = rows[:request.max_results], len(rows) > request.max_results
            metrics = [self._metrics(session, r) for r in page]
        return GetCrawlerMetricsResponse(crawler_metrics_list=metrics,
                                         next_token=encode_token(page[-1].name) if more else None)

    @operation("ListCrawls", resource=lambda r: crawler_crn(r.crawler_name), mutating=False)
    def list_crawls(self, ctx: CallContext, request: ListCrawlsRequest) -> ListCrawlsResponse:
        """A crawler's crawls, newest first, with what each found, changed and could not read."""
        self._settle([request.crawler_name])
        after = decode_token(request.next_token)
        with self._reading() as session:
            self._crawler(session, request.crawler_name)
            query = select(CrawlRow).where(CrawlRow.crawler == request.crawler_name)
            if after is not None:
                query = query.where(CrawlRow.seq < int(after))
            rows = list(session.scalars(query.order_by(CrawlRow.seq.desc()).limit(request.max_results + 1)))
        page = rows[:request.max_results]
        return ListCrawlsResponse(crawls=[_crawl(r) for r in page],
                                  next_token=encode_token(page[-1].seq) if len(rows) > len(page) else None)

    # -- state ---------------------------------------------------------------------------------

    def _checkpoint(self, name: str) -> bool:
        """The running crawl reports in; True when a stop was asked for."""
        def work(session: Session) -> bool:
            row = self._crawler(session, name, lock=True)
            row.heartbeat_at = self.clock.now()
            return row.state == "STOPPING"

        return self._writing(work)

    def _finish(self, name: str, crawl_id: str, state: str, error: str | None, summary: CrawlSummary,
                seconds: float) -> None:
        def work(session: Session) -> None:
            crawl = session.scalars(select(CrawlRow).where(CrawlRow.crawl_id == crawl_id)).one()
            crawl.state, crawl.error_message, crawl.ended_at = state, error, self.clock.now()
            crawl.duration_seconds, crawl.summary = seconds, summary.model_dump_json()
            crawl.tables_created, crawl.tables_updated = summary.tables_created, summary.tables_updated
            crawl.tables_deleted, crawl.partitions_added = summary.tables_deleted, summary.partitions_added
            row = session.get(CrawlerRow, name, with_for_update=True)
            if row is not None:
                row.state, row.owner, row.heartbeat_at = "READY", None, None

        self._writing(work)

    def _settle(self, names: list[str] | None) -> None:
        """Close crawls whose process is gone: crawler READY, crawl FAILED."""
        query = select(CrawlerRow).where(CrawlerRow.state != "READY")
        if names is not None:
            query = query.where(CrawlerRow.name.in_(names))
        with self._reading() as session:
            stale = [r.name for r in session.scalars(query) if not self._alive(r)]
        if not stale:
            return

        def work(session: Session) -> None:
            for name in stale:
                row = session.get(CrawlerRow, name, with_for_update=True)
                if row is None or row.state == "READY" or self._alive(row):
                    continue
                message = (f"the crawl was interrupted: the process running it ({row.owner or 'unknown'}) "
                           "ended before it finished")
                for crawl in session.scalars(select(CrawlRow).where(
                        CrawlRow.crawler == name, CrawlRow.state == "RUNNING")):
                    crawl.state, crawl.error_message, crawl.ended_at = "FAILED", message, self.clock.now()
                row.state, row.owner, row.heartbeat_at = "READY", None, None

        self._writing(work)

    def _alive(self, row: CrawlerRow) -> bool:
        return owner_alive(row.owner, heartbeat_at=row.heartbeat_at, now=self.clock.now(), stale_after=STALE_AFTER)

    @staticmethod
    def _idle(row: CrawlerRow) -> CrawlerRow:
        if row.state == "RUNNING":
            raise CrawlerRunningException(f"crawler {row.name!r} is running; wait for it or stop it")
        if row.state == "STOPPING":
            raise CrawlerStoppingException(f"crawler {row.name!r} is stopping; try again when it is READY")
        return row

    # -- lookups and entities --------------------------------------------------------------------

    @staticmethod
    def _crawler(session: Session, name: str, *, lock: bool = False) -> CrawlerRow:
        row = session.get(CrawlerRow, name, with_for_update=lock)
        if row is None:
            raise EntityNotFoundException(f"crawler {name!r} does not exist; list them with "
                                          "'crispml catalog list-crawlers'")
        return row

    @staticmethod
    def _check_classifiers(session: Session, names: list[str]) -> None:
        for name in names:
            classifier_row(session, name)

    def _crawler_entity(self, session: Session, row: CrawlerRow) -> Crawler:
        last = session.scalars(select(CrawlRow).where(CrawlRow.crawler == row.name, CrawlRow.state != "RUNNING")
                               .order_by(CrawlRow.seq.desc()).limit(1)).first()
        running = session.scalars(select(CrawlRow).where(CrawlRow.crawler == row.name, CrawlRow.state == "RUNNING")
                                  .order_by(CrawlRow.seq.desc()).limit(1)).first()
        elapsed = (self.clock.now() - running.started_at).total_seconds() if running else 0.0
        return Crawler.model_validate({
            **loads(row.document), "state": row.state, "version": row.version,
            "creation_time": row.created_at, "last_updated": row.updated_at,
            "crawl_elapsed_time": int(elapsed * 1000),
            "last_crawl": LastCrawlInfo(
                status=cast(LastCrawlStatus, _LAST_STATUS[last.state]), error_message=last.error_message,
                message_prefix=last.crawl_id, start_time=last.started_at) if last else None,
        })

    def _metrics(self, session: Session, row: CrawlerRow) -> CrawlerMetrics:
        crawls = list(session.scalars(select(CrawlRow).where(CrawlRow.crawler == row.name)
                                      .order_by(CrawlRow.seq.desc())))
        done = [c for c in crawls if c.state != "RUNNING"]
        times = [c.duration_seconds for c in done if c.duration_seconds is not None]
        median = statistics.median(times) if times else 0.0
        metrics = CrawlerMetrics(crawler_name=row.name, median_runtime_seconds=median,
                                 last_runtime_seconds=times[0] if times else 0.0)
        if done:
            metrics.tables_created, metrics.tables_updated = done[0].tables_created, done[0].tables_updated
            metrics.tables_deleted = done[0].tables_deleted
        running = next((c for c in crawls if c.state == "RUNNING"), None)
        if running is not None:
            elapsed = (self.clock.now() - running.started_at).total_seconds()
            metrics.still_estimating = not times
            metrics.time_left_seconds = max(0.0, median - elapsed) if times else 0.0
        return metrics


def _crawl(row: CrawlRow) -> Crawl:
    return Crawl(crawl_id=row.crawl_id, state=cast(CrawlState, row.state), start_time=row.started_at,
                 end_time=row.ended_at, error_message=row.error_message,
                 summary=CrawlSummary.model_validate_json(row.summary or "{}"))
