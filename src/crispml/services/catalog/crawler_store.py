"""Crawler tables: custom classifiers, crawlers, and one row per crawl (run).

A classifier and a crawler are each one JSON document (their Glue definition)
plus the columns the service queries on. A crawler's ``state`` is the Glue
state (``READY|RUNNING|STOPPING``); while it runs, ``owner`` names the process
running the crawl (``host:pid``) and ``heartbeat_at`` when it last reported,
so a crawl whose process died is recognised and closed as FAILED instead of
leaving the crawler RUNNING for ever. Crawls are numbered by ``seq`` (the
order they started; timestamps may tie) and go with their crawler.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crispml.core.metadb.base import Base, BinaryString, UTCDateTime
from crispml.services.catalog.store import BigId


class ClassifierRow(Base):
    __tablename__ = "catalog_classifiers"

    name: Mapped[str] = mapped_column(BinaryString(255), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # CsvClassifier as JSON
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CrawlerRow(Base):
    __tablename__ = "catalog_crawlers"

    name: Mapped[str] = mapped_column(BinaryString(255), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # the crawler's definition as JSON
    state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CrawlRow(Base):
    __tablename__ = "catalog_crawls"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    crawl_id: Mapped[str] = mapped_column(String(64), unique=True)
    crawler: Mapped[str] = mapped_column(ForeignKey("catalog_crawlers.name", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))  # RUNNING|COMPLETED|STOPPED|FAILED (Glue ListCrawls)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    tables_created: Mapped[int] = mapped_column(Integer, default=0)
    tables_updated: Mapped[int] = mapped_column(Integer, default=0)
    tables_deleted: Mapped[int] = mapped_column(Integer, default=0)
    partitions_added: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="{}")  # unreadable files and messages, JSON

    __table_args__ = (Index("ix_catalog_crawls_crawler_seq", "crawler", "seq"),)
