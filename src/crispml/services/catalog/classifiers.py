"""Custom classifier operations (Glue ``CsvClassifier``): create, get, list, delete.

A crawler names its custom classifiers; a crawl tries them, in order, before
the built-in ones (``classify.py``). Only CSV classifiers exist here: Glue's
Grok, XML and JSON-path classifiers describe formats crispml does not read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.core.names import crn
from crispml.services.catalog.core import CatalogCore, decode_token, dumps, encode_token, loads
from crispml.services.catalog.crawler_specs import (
    ClassifierRequest,
    CreateClassifierRequest,
    EmptyCrawlerResponse,
    GetClassifierResponse,
    GetClassifiersRequest,
    GetClassifiersResponse,
)
from crispml.services.catalog.crawler_store import ClassifierRow
from crispml.services.catalog.entities import Classifier, CsvClassifierInfo
from crispml.services.catalog.errors import AlreadyExistsException, EntityNotFoundException
from crispml.spine.operations import operation


def classifier_crn(name: str | None) -> str:
    return crn("catalog", f"classifier/{name or '*'}")


def classifier_row(session: Session, name: str) -> ClassifierRow:
    """The classifier ``name``, or EntityNotFoundException."""
    row = session.get(ClassifierRow, name)
    if row is None:
        raise EntityNotFoundException(f"classifier {name!r} does not exist; list them with "
                                      "'crispml catalog get-classifiers'")
    return row


class ClassifierOps(CatalogCore):
    """Custom CSV classifiers."""



    @operation("CreateClassifier", resource=lambda r: classifier_crn(r.csv_classifier.name))
    def create_classifier(self, ctx: CallContext, request: CreateClassifierRequest) -> EmptyCrawlerResponse:
        """Create a custom CSV classifier (delimiter, quote, header) for crawlers to try first."""
        given = request.csv_classifier

        def work(session: Session) -> None:
            if session.get(ClassifierRow, given.name) is not None:
                raise AlreadyExistsException(f"classifier {given.name!r} already exists")
            now = self.clock.now()
            session.add(ClassifierRow(name=given.name, document=dumps(given.model_dump(mode="json")),
                                      version=1, created_at=now, updated_at=now))

        self._writing(work)
        return EmptyCrawlerResponse()

    @operation("GetClassifier", resource=lambda r: classifier_crn(r.name), mutating=False)
    def get_classifier(self, ctx: CallContext, request: ClassifierRequest) -> GetClassifierResponse:
        """Show a custom classifier."""
        with self._reading() as session:
            return GetClassifierResponse(classifier=_classifier(classifier_row(session, request.name)))

    @operation("GetClassifiers", resource=lambda r: classifier_crn(None), mutating=False)
    def get_classifiers(self, ctx: CallContext, request: GetClassifiersRequest) -> GetClassifiersResponse:
        """List custom classifiers by name, a page at a time."""
        rows, token = self._page(ClassifierRow, request.next_token, request.max_results)
        return GetClassifiersResponse(classifiers=[_classifier(r) for r in rows], next_token=token)

    @operation("DeleteClassifier", resource=lambda r: classifier_crn(r.name))
    def delete_classifier(self, ctx: CallContext, request: ClassifierRequest) -> EmptyCrawlerResponse:
        """Delete a custom classifier (crawlers naming it crawl on without it)."""
        self._writing(lambda session: session.delete(classifier_row(session, request.name)))
        return EmptyCrawlerResponse()


    def _page(self, model: Any, token: str | None, size: int) -> tuple[list[Any], str | None]:
        after = decode_token(token)
        with self._reading() as session:
            query = select(model)
            if after is not None:
                query = query.where(model.name > str(after))
            rows = list(session.scalars(query.order_by(model.name).limit(size + 1)))
            for row in rows:
                session.expunge(row)
        page = rows[:size]
        return page, encode_token(page[-1].name) if len(rows) > size else None


def _classifier(row: ClassifierRow) -> Classifier:
    return Classifier(csv_classifier=CsvClassifierInfo.model_validate({
        **loads(row.document), "creation_time": row.created_at, "last_updated": row.updated_at,
        "version": row.version}))
