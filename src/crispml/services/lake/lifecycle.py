"""S3 lifecycle configuration: its JSON shape, its validation, and the decision of
what a rule does to an object at a given time.

The decisions here are pure (objects and a time in, actions out), so they are
tested without a clock; the service applies them through the injectable clock.
Ages are counted in whole days since the object was written (or, for
noncurrent versions, since a newer version replaced it). AWS rounds to the next
midnight UTC; crispml does not, so a rule of ``Days: 30`` acts 30×24 hours after
the write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import AliasGenerator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_pascal

from crispml.services.lake.errors import MalformedLifecycle
from crispml.services.lake.rules import STORAGE_CLASSES
from crispml.spine.models import Shape

TransitionClass = Literal["STANDARD_IA", "GLACIER"]
_MIN_DAYS = {"STANDARD_IA": 30, "GLACIER": 0}


def _aws_name(name: str) -> str:
    return "ID" if name == "id" else to_pascal(name)


class LifecycleShape(Shape):
    """A lifecycle shape that is also written back in S3's PascalCase (``by_alias=True``),
    so GetBucketLifecycleConfiguration returns the document a user of AWS would put."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=_aws_name, serialization_alias=_aws_name),
    )


class TagFilter(LifecycleShape):
    key: str
    value: str


class AndFilter(LifecycleShape):
    prefix: str | None = None
    tags: list[TagFilter] = Field(default_factory=list)
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None


class Filter(LifecycleShape):
    prefix: str | None = None
    tag: TagFilter | None = None
    object_size_greater_than: int | None = None
    object_size_less_than: int | None = None
    and_: AndFilter | None = Field(None, alias="And")


class Transition(LifecycleShape):
    days: int | None = Field(None, ge=0)
    date: datetime | None = None
    storage_class: TransitionClass


class Expiration(LifecycleShape):
    days: int | None = Field(None, ge=1)
    date: datetime | None = None
    expired_object_delete_marker: bool | None = None


class NoncurrentVersionExpiration(LifecycleShape):
    noncurrent_days: int = Field(ge=1)
    newer_noncurrent_versions: int | None = Field(None, ge=1, le=100)


class NoncurrentVersionTransition(LifecycleShape):
    noncurrent_days: int = Field(ge=0)
    storage_class: TransitionClass


class AbortIncompleteMultipartUpload(LifecycleShape):
    days_after_initiation: int = Field(ge=1)


class Rule(LifecycleShape):
    id: str | None = Field(None, max_length=255)
    status: Literal["Enabled", "Disabled"]
    filter: Filter | None = None
    prefix: str | None = None  # the older, filter-less form
    transitions: list[Transition] = Field(default_factory=list)
    expiration: Expiration | None = None
    noncurrent_version_expiration: NoncurrentVersionExpiration | None = None
    noncurrent_version_transitions: list[NoncurrentVersionTransition] = Field(default_factory=list)
    abort_incomplete_multipart_upload: AbortIncompleteMultipartUpload | None = None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        name = self.id or "(no ID)"
        if not (self.transitions or self.expiration or self.noncurrent_version_expiration
                or self.noncurrent_version_transitions or self.abort_incomplete_multipart_upload):
            raise MalformedLifecycle(f"lifecycle rule {name} has no action; add a Transition, Expiration, "
                                     "NoncurrentVersionExpiration or AbortIncompleteMultipartUpload")
        if self.filter is not None and self.prefix is not None:
            raise MalformedLifecycle(f"lifecycle rule {name} has both Filter and Prefix; use Filter")
        if self.filter is not None:
            f = self.filter
            conditions = [label for label, value in (
                ("Prefix", f.prefix), ("Tag", f.tag), ("ObjectSizeGreaterThan", f.object_size_greater_than),
                ("ObjectSizeLessThan", f.object_size_less_than), ("And", f.and_),
            ) if value is not None]
            if len(conditions) > 1:
                raise MalformedLifecycle(
                    f"lifecycle rule {name}: a Filter takes one condition, not {' and '.join(conditions)}; "
                    "combine several with And"
                )
        for t in self.transitions:
            if (t.days is None) == (t.date is None):
                raise MalformedLifecycle(f"lifecycle rule {name}: a Transition needs exactly one of Days or Date")
            if t.days is not None and t.days < _MIN_DAYS[t.storage_class]:
                raise MalformedLifecycle(
                    f"lifecycle rule {name}: Days in a Transition to {t.storage_class} must be at least "
                    f"{_MIN_DAYS[t.storage_class]}"
                )
        for nt in self.noncurrent_version_transitions:
            if nt.noncurrent_days < _MIN_DAYS[nt.storage_class]:
                raise MalformedLifecycle(
                    f"lifecycle rule {name}: NoncurrentDays in a NoncurrentVersionTransition to "
                    f"{nt.storage_class} must be at least {_MIN_DAYS[nt.storage_class]}"
                )
        if self.expiration is not None:
            e = self.expiration
            given = sum(x is not None for x in (e.days, e.date, e.expired_object_delete_marker))
            if given != 1:
                raise MalformedLifecycle(
                    f"lifecycle rule {name}: Expiration needs exactly one of Days, Date or ExpiredObjectDeleteMarker"
                )
        if self.abort_incomplete_multipart_upload is not None and self.filter is not None and (
            self.filter.tag is not None or (self.filter.and_ is not None and self.filter.and_.tags)
        ):
            raise MalformedLifecycle(f"lifecycle rule {name}: AbortIncompleteMultipartUpload cannot use a tag filter")
        return self


class LifecycleConfiguration(LifecycleShape):
    rules: list[Rule] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_ids(self) -> LifecycleConfiguration:
        ids = [r.id for r in self.rules if r.id]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise MalformedLifecycle(
                f"lifecycle rule IDs must be unique; {', '.join(map(repr, repeated))} is used more than once"
            )
        return self


@dataclass(frozen=True)
class Candidate:
    """What a rule needs to know about one object version."""

    key: str
    size: int
    tags: dict[str, str]
    storage_class: str
    last_modified: datetime


def matches(rule: Rule, obj: Candidate) -> bool:
    """Whether ``rule`` (enabled or not) selects the object ``obj``."""
    prefix = rule.prefix or ""
    tags: list[TagFilter] = []
    greater, less = None, None
    f = rule.filter
    if f is not None:
        if f.and_ is not None:
            prefix = f.and_.prefix or ""
            tags = list(f.and_.tags)
            greater, less = f.and_.object_size_greater_than, f.and_.object_size_less_than
        else:
            prefix = f.prefix or prefix
            tags = [f.tag] if f.tag else []
            greater, less = f.object_size_greater_than, f.object_size_less_than
    if not obj.key.startswith(prefix):
        return False
    if any(obj.tags.get(t.key) != t.value for t in tags):
        return False
    if greater is not None and not obj.size > greater:
        return False
    return not (less is not None and not obj.size < less)


def age_days(since: datetime, now: datetime) -> float:
    return (now - since).total_seconds() / 86400.0


def transition_target(rule: Rule, obj: Candidate, now: datetime) -> str | None:
    """The colder storage class a current object should move to now, if any."""
    due = [
        t.storage_class for t in rule.transitions
        if (t.days is not None and age_days(obj.last_modified, now) >= t.days)
        or (t.date is not None and now >= t.date)
    ]
    return _colder(obj.storage_class, due)


def noncurrent_transition_target(rule: Rule, obj: Candidate, noncurrent_since: datetime, now: datetime) -> str | None:
    due = [
        t.storage_class for t in rule.noncurrent_version_transitions
        if age_days(noncurrent_since, now) >= t.noncurrent_days
    ]
    return _colder(obj.storage_class, due)


def _colder(current: str, candidates: Sequence[str]) -> str | None:
    if not candidates:
        return None
    coldest = max(candidates, key=STORAGE_CLASSES.index)
    return coldest if STORAGE_CLASSES.index(coldest) > STORAGE_CLASSES.index(current) else None


def expires(rule: Rule, obj: Candidate, now: datetime) -> bool:
    e = rule.expiration
    if e is None:
        return False
    if e.days is not None:
        return age_days(obj.last_modified, now) >= e.days
    return e.date is not None and now >= e.date
