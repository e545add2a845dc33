"""Lifecycle operations: store a bucket's rules and apply them at the clock's time.

``ApplyLifecycle`` is crispml's own: S3 applies rules by itself once a day;
here the server will call it periodically, and a user or a test can call it at
any time (with an injected clock, at any simulated time). Each run reports what
it did: transitions, expirations, removed noncurrent versions and delete
markers, aborted uploads and expired restores.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crispml.core.context import CallContext
from crispml.services.lake.core import LakeCore, bucket_crn, loads
from crispml.services.lake.errors import NoSuchLifecycleConfiguration
from crispml.services.lake.lifecycle import (
    Candidate,
    LifecycleConfiguration,
    Rule,
    age_days,
    expires,
    matches,
    noncurrent_transition_target,
    transition_target,
)
from crispml.services.lake.specs import (
    ApplyLifecycleRequest,
    ApplyLifecycleResponse,
    BucketRequest,
    EmptyResponse,
    GetBucketLifecycleConfigurationResponse,
    LifecycleAction,
    PutBucketLifecycleConfigurationRequest,
)
from crispml.services.lake.store import BucketRow, PartRow, UploadRow, VersionRow
from crispml.spine.operations import operation


def _candidate(row: VersionRow) -> Candidate:
    return Candidate(key=row.key, size=row.size, tags=loads(row.tags), storage_class=row.storage_class,
                     last_modified=row.last_modified)


class LifecycleOps(LakeCore):
    @operation("PutBucketLifecycleConfiguration", resource=lambda r: bucket_crn(r.bucket))
    def put_bucket_lifecycle_configuration(
        self, ctx: CallContext, request: PutBucketLifecycleConfigurationRequest
    ) -> EmptyResponse:
        """Set a bucket's lifecycle rules (S3's JSON shape), replacing any it had."""
        document = request.lifecycle_configuration.model_dump(mode="json", by_alias=False, exclude_none=True)

        def work(session: Session) -> None:
            self._bucket(session, request.bucket).lifecycle = json.dumps(document)

        self._writing(work)
        return EmptyResponse()

    @operation("GetBucketLifecycleConfiguration", resource=lambda r: bucket_crn(r.bucket), mutating=False)
    def get_bucket_lifecycle_configuration(
        self, ctx: CallContext, request: BucketRequest
    ) -> GetBucketLifecycleConfigurationResponse:
        """Show a bucket's lifecycle rules."""
        with self._reading() as session:
            row = self._bucket(session, request.bucket)
            if not row.lifecycle:
                raise NoSuchLifecycleConfiguration(f"bucket {request.bucket!r} has no lifecycle configuration")
            config = LifecycleConfiguration.model_validate(json.loads(row.lifecycle))
        return GetBucketLifecycleConfigurationResponse(
            rules=[r.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
                   for r in config.rules]
        )

    @operation("DeleteBucketLifecycle", resource=lambda r: bucket_crn(r.bucket))
    def delete_bucket_lifecycle(self, ctx: CallContext, request: BucketRequest) -> EmptyResponse:
        """Remove a bucket's lifecycle rules."""
        def work(session: Session) -> None:
            self._bucket(session, request.bucket).lifecycle = None

        self._writing(work)
        return EmptyResponse()

    @operation("ApplyLifecycle", resource=lambda r: bucket_crn(r.bucket))
    def apply_lifecycle(self, ctx: CallContext, request: ApplyLifecycleRequest) -> ApplyLifecycleResponse:
        """Apply lifecycle rules now (by the platform clock) and expire finished restores."""
        now = self.clock.now()
        with self._reading() as session:
            if request.bucket:
                names = [self._bucket(session, request.bucket).name]
            else:
                names = list(session.scalars(select(BucketRow.name).order_by(BucketRow.name)))
        actions: list[LifecycleAction] = []
        for name in names:
            actions.extend(self._apply_bucket(name, now))
        return ApplyLifecycleResponse(evaluated_at=now, actions=actions)

    def _apply_bucket(self, bucket: str, now: datetime) -> list[LifecycleAction]:
        def work(session: Session) -> tuple[list[LifecycleAction], list[str]]:
            row = self._bucket(session, bucket)
            actions: list[LifecycleAction] = []
            unreachable: list[str] = []
            for version in session.scalars(select(VersionRow).where(
                VersionRow.bucket == bucket, VersionRow.restore_expiry.is_not(None), VersionRow.restore_expiry <= now
            )):
                version.restore_expiry = None
                actions.append(LifecycleAction(bucket=bucket, key=version.key, version_id=version.version_id,
                                               action="RestoreExpired"))
            if row.lifecycle:
                rules = [r for r in LifecycleConfiguration.model_validate(json.loads(row.lifecycle)).rules
                         if r.status == "Enabled"]
                self._apply_rules(session, row, rules, now, actions, unreachable)
            return actions, unreachable

        actions, unreachable = self._writing(work)
        self._drop_blobs(unreachable)
        return actions

    def _apply_rules(self, session: Session, bucket: BucketRow, rules: list[Rule], now: datetime,
                     actions: list[LifecycleAction], unreachable: list[str]) -> None:
        name = bucket.name
        by_key: dict[str, list[VersionRow]] = {}
        for version in session.scalars(select(VersionRow).where(VersionRow.bucket == name)
                                       .order_by(VersionRow.key, VersionRow.seq.desc())):
            by_key.setdefault(version.key, []).append(version)

        def act(version: VersionRow, action: str, rule: Rule, detail: str | None = None) -> None:
            actions.append(LifecycleAction(bucket=name, key=version.key, version_id=version.version_id,
                                           action=action, rule_id=rule.id, detail=detail))

        for key, versions in by_key.items():
            latest = versions[0]
            if not latest.is_delete_marker:
                candidate = _candidate(latest)
                for rule in (r for r in rules if matches(r, candidate)):
                    if expires(rule, candidate, now):
                        act(latest, "Expire", rule)
                        if bucket.versioning is None:
                            unreachable += self._remove_version(session, latest)
                        else:
                            _, gone = self._commit_version(session, bucket, key, is_delete_marker=True,
                                                           size=0, etag="", blob_key=None, last_modified=now)
                            unreachable += gone
                        versions = self._versions_of(session, name, key)
                        break
                    target = transition_target(rule, candidate, now)
                    if target:
                        act(latest, "Transition", rule, f"{latest.storage_class} -> {target}")
                        latest.storage_class, latest.restore_expiry = target, None
                        candidate = _candidate(latest)
            self._apply_noncurrent(session, rules, versions, now, act, unreachable)
        self._abort_uploads(session, name, rules, now, actions, unreachable)

    def _apply_noncurrent(self, session: Session, rules: list[Rule], versions: list[VersionRow], now: datetime,
                          act: Callable[..., None], unreachable: list[str]) -> None:
        live = [v for v in versions if v in session]
        for rule in rules:
            expiration = rule.noncurrent_version_expiration
            keep = (expiration.newer_noncurrent_versions or 0) if expiration is not None else 0
            # S3's NewerNoncurrentVersions counts every newer noncurrent version, old enough or not
            newer_noncurrent = 0
            for newer, version in itertools.pairwise(live):
                if version not in session or version.is_delete_marker or not matches(rule, _candidate(version)):
                    continue
                since = newer.last_modified  # the version became noncurrent when ``newer`` was written
                if (expiration is not None and age_days(since, now) >= expiration.noncurrent_days
                        and newer_noncurrent >= keep):
                    act(version, "ExpireNoncurrent", rule)
                    unreachable += self._remove_version(session, version)
                    continue
                newer_noncurrent += 1
                target = noncurrent_transition_target(rule, _candidate(version), since, now)
                if target:
                    act(version, "TransitionNoncurrent", rule, f"{version.storage_class} -> {target}")
                    version.storage_class = target
            remaining = [v for v in live if v in session]
            if (rule.expiration is not None and rule.expiration.expired_object_delete_marker
                    and len(remaining) == 1 and remaining[0].is_delete_marker
                    and matches(rule, _candidate(remaining[0]))):
                act(remaining[0], "RemoveExpiredDeleteMarker", rule)
                unreachable += self._remove_version(session, remaining[0])

    def _abort_uploads(self, session: Session, bucket: str, rules: list[Rule], now: datetime,
                       actions: list[LifecycleAction], unreachable: list[str]) -> None:
        for upload in list(session.scalars(select(UploadRow).where(UploadRow.bucket == bucket))):
            for rule in rules:
                abort = rule.abort_incomplete_multipart_upload
                if abort is None or not upload.key.startswith(_rule_prefix(rule)):
                    continue
                if now - upload.initiated >= timedelta(days=abort.days_after_initiation):
                    parts = list(session.scalars(select(PartRow).where(PartRow.upload_id == upload.upload_id)))
                    unreachable += [p.blob_key for p in parts]
                    for part in parts:
                        session.delete(part)
                    session.delete(upload)
                    actions.append(LifecycleAction(
                        bucket=bucket, key=upload.key, action="AbortIncompleteMultipartUpload",
                        rule_id=rule.id, detail=upload.upload_id,
                    ))
                    break


def _rule_prefix(rule: Rule) -> str:
    if rule.filter is not None:
        if rule.filter.and_ is not None:
            return rule.filter.and_.prefix or ""
        return rule.filter.prefix or ""
    return rule.prefix or ""
