"""Crawler and classifier requests and responses: Glue's operations and fields, in snake_case.

Checked here, once: names are 1-255 characters on one line; a crawler has at
least one target, each normalised to ``lake://bucket/prefix/`` (``s3://`` is
the same lake); a custom CSV classifier's delimiter and quote are single,
different characters. As in Glue, a crawler that crawls new folders only
must LOG both schema changes and deletions (it does not look at what it
already knows, so it cannot tell a change or a deletion).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field, model_validator

from crispml.services.catalog.entities import (
    Classifier,
    Crawl,
    Crawler,
    CrawlerMetrics,
    CrawlerTargets,
    RecrawlPolicy,
    SchemaChangePolicy,
)
from crispml.services.catalog.errors import InvalidInputException
from crispml.services.catalog.rules import check_location
from crispml.services.catalog.specs import DatabaseName, NextToken
from crispml.spine.models import Request, Response, Shape


def _entity_name(name: str) -> str:
    if not 1 <= len(name) <= 255 or any(ord(c) < 32 for c in name):
        raise InvalidInputException(f"name {name!r} must be 1-255 characters on one line")
    return name


EntityName = Annotated[str, AfterValidator(_entity_name), Field(description="Name (1-255 characters).")]
Pages = Annotated[int, Field(ge=1, le=1000, description="Items per page (1-1000).")]


def _targets(targets: CrawlerTargets) -> CrawlerTargets:
    if not targets.s3_targets:
        raise InvalidInputException(
            "a crawler needs at least one target: Targets={'S3Targets': [{'Path': 's3://bucket/prefix/'}]}")
    for target in targets.s3_targets:
        target.path = check_location(target.path)
    return targets


Targets = Annotated[CrawlerTargets, AfterValidator(_targets),
                    Field(description='{"S3Targets": [{"Path": "s3://bucket/raw/", "Exclusions": ["**.tmp"]}]}.')]


def check_policies(schema: SchemaChangePolicy, recrawl: RecrawlPolicy) -> None:
    """Glue's rule: crawling new folders only requires LOG for both updates and deletions."""
    if recrawl.recrawl_behavior == "CRAWL_NEW_FOLDERS_ONLY" and (
            schema.update_behavior != "LOG" or schema.delete_behavior != "LOG"):
        raise InvalidInputException(
            "a crawler with RecrawlBehavior CRAWL_NEW_FOLDERS_ONLY must have SchemaChangePolicy "
            "UpdateBehavior LOG and DeleteBehavior LOG"
        )


class EmptyCrawlerResponse(Response):
    """A crawler operation that returns nothing but success."""


# -- classifiers ------------------------------------------------------------------------


class CsvClassifierInput(Shape):
    name: EntityName
    delimiter: str = ","
    quote_symbol: str = '"'
    contains_header: Literal["PRESENT", "ABSENT", "UNKNOWN"] = "UNKNOWN"
    header: list[str] = Field(default_factory=list)
    disable_value_trimming: bool = False
    allow_single_column: bool = False

    @model_validator(mode="after")
    def _check(self) -> CsvClassifierInput:
        for what, value in (("Delimiter", self.delimiter), ("QuoteSymbol", self.quote_symbol)):
            if len(value) != 1 or value in "\r\n":
                raise InvalidInputException(f"classifier {self.name!r}: {what} must be one character, not {value!r}")
        if self.delimiter == self.quote_symbol:
            raise InvalidInputException(f"classifier {self.name!r}: Delimiter and QuoteSymbol must differ")
        return self


class CreateClassifierRequest(Request):
    csv_classifier: CsvClassifierInput = Field(
        description='{"Name": "pipes", "Delimiter": "|", "ContainsHeader": "PRESENT"}.')


class ClassifierRequest(Request):
    name: EntityName


class GetClassifierResponse(Response):
    classifier: Classifier


class GetClassifiersRequest(Request):
    max_results: Pages = 100
    next_token: NextToken = None


class GetClassifiersResponse(Response):
    classifiers: list[Classifier]
    next_token: str | None = None


# -- crawlers ---------------------------------------------------------------------------


class CreateCrawlerRequest(Request):
    name: EntityName
    role: str = Field(description="The role the crawler runs as (stored; crawls run as the caller).")
    database_name: DatabaseName
    targets: Targets
    description: str | None = Field(None, max_length=2048)
    classifiers: list[str] = Field(default_factory=list, description="Custom classifiers, tried first, in order.")
    table_prefix: str | None = Field(None, max_length=128, description="Prefix of the tables' names.")
    schema_change_policy: SchemaChangePolicy = Field(default_factory=SchemaChangePolicy)
    recrawl_policy: RecrawlPolicy = Field(default_factory=RecrawlPolicy)

    @model_validator(mode="after")
    def _check(self) -> CreateCrawlerRequest:
        check_policies(self.schema_change_policy, self.recrawl_policy)
        return self


class UpdateCrawlerRequest(Request):
    """Fields left out keep their value."""

    name: EntityName
    role: str | None = None
    database_name: DatabaseName | None = None
    targets: Targets | None = None
    description: str | None = Field(None, max_length=2048)
    classifiers: list[str] | None = None
    table_prefix: str | None = Field(None, max_length=128)
    schema_change_policy: SchemaChangePolicy | None = None
    recrawl_policy: RecrawlPolicy | None = None


class CrawlerRequest(Request):
    name: EntityName


class GetCrawlerResponse(Response):
    crawler: Crawler


class GetCrawlersRequest(Request):
    max_results: Pages = 100
    next_token: NextToken = None


class GetCrawlersResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {
        "crawlers": ["name", "state", "database_name", "last_updated"]}
    crawlers: list[Crawler]
    next_token: str | None = None


class ListCrawlersResponse(Response):
    crawler_names: list[str]
    next_token: str | None = None


class GetCrawlerMetricsRequest(Request):
    crawler_name_list: list[str] = Field(default_factory=list, description="Default: every crawler.")
    max_results: Pages = 100
    next_token: NextToken = None


class GetCrawlerMetricsResponse(Response):
    table_columns: ClassVar[dict[str, list[str]]] = {"crawler_metrics_list": [
        "crawler_name", "tables_created", "tables_updated", "tables_deleted", "last_runtime_seconds"]}
    crawler_metrics_list: list[CrawlerMetrics]
    next_token: str | None = None


class ListCrawlsRequest(Request):
    crawler_name: EntityName
    max_results: Pages = 100
    next_token: NextToken = None


class ListCrawlsResponse(Response):
    crawls: list[Crawl]
    next_token: str | None = None
