"""Lifecycle rules: S3's JSON shape and its validation, then what ApplyLifecycle does as the
injected clock moves: transitions, expirations, noncurrent versions, tag filters,
disabled rules and incomplete multipart uploads."""

from __future__ import annotations

from typing import Any

import pytest

from crispml.core.errors import InvalidArgument
from crispml.sdk.client import Client
from crispml.services.lake.errors import (
    InvalidObjectState,
    MalformedLifecycle,
    NoSuchKey,
    NoSuchLifecycleConfiguration,
    NoSuchUpload,
)

from .support import keys, read, versions_of


def _rules(lake: Any, bucket: str, *rules: dict[str, Any]) -> None:
    lake.put_bucket_lifecycle_configuration(bucket=bucket,
                                            lifecycle_configuration={"Rules": list(rules)})


def _apply(lake: Any, bucket: str) -> list[tuple[str, str, str | None]]:
    """Run the rules now; (action, key, rule id) of what they did."""
    return [(a.action, a.key, a.rule_id) for a in lake.apply_lifecycle(bucket=bucket).actions]


# -- the configuration -----------------------------------------------------------

FULL_RULES: list[dict[str, Any]] = [
    {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
     "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                     {"Days": 90, "StorageClass": "GLACIER"}],
     "Expiration": {"Days": 365}},
    {"ID": "scratch", "Status": "Disabled", "Filter": {"Tag": {"Key": "tier", "Value": "tmp"}},
     "Expiration": {"Days": 1}},
    {"ID": "both", "Status": "Enabled",
     "Filter": {"And": {"Prefix": "raw/", "Tags": [{"Key": "a", "Value": "1"},
                                                   {"Key": "b", "Value": "2"}]}},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {},
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
]


def test_put_get_and_delete_a_configuration(lake: Any, bucket: str) -> None:
    with pytest.raises(NoSuchLifecycleConfiguration) as caught:
        lake.get_bucket_lifecycle_configuration(bucket=bucket)
    assert repr(bucket) in caught.value.message
    _rules(lake, bucket, *FULL_RULES)
    # the rules come back in the AWS shape they were written in
    assert lake.get_bucket_lifecycle_configuration(bucket=bucket).rules == FULL_RULES

    _rules(lake, bucket, {"ID": "only", "Status": "Enabled", "Expiration": {"Days": 2}})
    assert lake.get_bucket_lifecycle_configuration(bucket=bucket).rules == [
        {"ID": "only", "Status": "Enabled", "Expiration": {"Days": 2}}]

    lake.delete_bucket_lifecycle(bucket=bucket)
    with pytest.raises(NoSuchLifecycleConfiguration):
        lake.get_bucket_lifecycle_configuration(bucket=bucket)


def test_snake_case_fields_are_accepted_too(lake: Any, bucket: str) -> None:
    lake.put_bucket_lifecycle_configuration(bucket=bucket, lifecycle_configuration={"rules": [
        {"id": "snake", "status": "Enabled", "filter": {"prefix": "a/"},
         "expiration": {"days": 3}},
    ]})
    assert lake.get_bucket_lifecycle_configuration(bucket=bucket).rules == [
        {"ID": "snake", "Status": "Enabled", "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 3}}]


MALFORMED: list[tuple[str, list[dict[str, Any]], str]] = [
    ("no-action", [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "a/"}}],
     "rule r has no action"),
    ("ia-too-soon", [{"ID": "r", "Status": "Enabled",
                      "Transitions": [{"Days": 29, "StorageClass": "STANDARD_IA"}]}],
     "Transition to STANDARD_IA must be at least 30"),
    ("duplicate-ids", [{"ID": "same", "Status": "Enabled", "Expiration": {"Days": 1}},
                       {"ID": "same", "Status": "Enabled", "Expiration": {"Days": 2}}],
     "'same' is used more than once"),
    ("filter-and-prefix", [{"ID": "r", "Status": "Enabled", "Prefix": "a/",
                            "Filter": {"Prefix": "a/"}, "Expiration": {"Days": 1}}],
     "both Filter and Prefix"),
    ("two-conditions", [{"ID": "r", "Status": "Enabled",
                         "Filter": {"Prefix": "a/", "Tag": {"Key": "k", "Value": "v"}},
                         "Expiration": {"Days": 1}}],
     "combine several with And"),
    ("noncurrent-ia-too-soon", [{"ID": "r", "Status": "Enabled",
                                 "NoncurrentVersionTransitions": [
                                     {"NoncurrentDays": 10, "StorageClass": "STANDARD_IA"}]}],
     "NoncurrentVersionTransition to STANDARD_IA must be at least 30"),
    ("transition-without-days", [{"ID": "r", "Status": "Enabled",
                                  "Transitions": [{"StorageClass": "GLACIER"}]}],
     "exactly one of Days or Date"),
    ("expiration-two-ways", [{"ID": "r", "Status": "Enabled",
                              "Expiration": {"Days": 1, "ExpiredObjectDeleteMarker": True}}],
     "exactly one of Days, Date or ExpiredObjectDeleteMarker"),
    ("abort-with-tag", [{"ID": "r", "Status": "Enabled",
                         "Filter": {"Tag": {"Key": "k", "Value": "v"}},
                         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}],
     "cannot use a tag filter"),
]


def test_malformed_configurations_are_rejected_saying_why(lake: Any, bucket: str) -> None:
    _rules(lake, bucket, {"ID": "before", "Status": "Enabled", "Expiration": {"Days": 5}})
    for case, rules, why in MALFORMED:
        with pytest.raises(MalformedLifecycle) as caught:
            _rules(lake, bucket, *rules)
        assert caught.value.code == "MalformedXML"
        assert isinstance(caught.value, InvalidArgument)
        assert why in caught.value.message, case
    # a rejected configuration leaves the previous one in place
    assert [r["ID"] for r in lake.get_bucket_lifecycle_configuration(bucket=bucket).rules] == [
        "before"]


INVALID_SHAPES: list[tuple[dict[str, Any], str]] = [
    ({"Rules": []}, "Rules"),
    ({"Rules": [{"ID": "r", "Status": "enabled", "Expiration": {"Days": 1}}]}, "Enabled"),
    ({"Rules": [{"ID": "r", "Status": "Enabled", "Expiration": {"Days": 0}}]}, "Days"),
    ({"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefx": "a"},
                 "Expiration": {"Days": 1}}]}, "Prefx"),
    ({"Rules": [{"ID": "r", "Status": "Enabled",
                 "Transitions": [{"Days": 1, "StorageClass": "DEEP_ARCHIVE"}]}]}, "StorageClass"),
]


def test_invalid_shapes_are_invalid_argument(lake: Any, bucket: str) -> None:
    for config, why in INVALID_SHAPES:
        with pytest.raises(InvalidArgument) as caught:
            lake.put_bucket_lifecycle_configuration(bucket=bucket, lifecycle_configuration=config)
        assert why.lower() in caught.value.message.lower().replace("_", ""), config
    with pytest.raises(NoSuchLifecycleConfiguration):
        lake.get_bucket_lifecycle_configuration(bucket=bucket)


# -- applying rules ----------------------------------------------------------------


def test_transitions_happen_on_the_day_count_and_only_under_the_prefix(
    lake: Any, bucket: str, clock: Any
) -> None:
    _rules(lake, bucket, {
        "ID": "tier-down", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
        "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                        {"Days": 90, "StorageClass": "GLACIER"}],
    })
    lake.put_object(bucket=bucket, key="logs/a.log", body=b"log line")
    lake.put_object(bucket=bucket, key="data/b.csv", body=b"x")

    clock.advance(days=29, hours=23)
    assert _apply(lake, bucket) == []
    assert lake.head_object(bucket=bucket, key="logs/a.log").storage_class == "STANDARD"

    clock.advance(hours=1)
    applied = lake.apply_lifecycle(bucket=bucket).actions
    assert [(a.action, a.key, a.rule_id, a.detail) for a in applied] == [
        ("Transition", "logs/a.log", "tier-down", "STANDARD -> STANDARD_IA")]
    assert lake.head_object(bucket=bucket, key="logs/a.log").storage_class == "STANDARD_IA"
    assert lake.head_object(bucket=bucket, key="data/b.csv").storage_class == "STANDARD"
    assert read(lake, bucket, "logs/a.log") == b"log line"
    assert _apply(lake, bucket) == []  # nothing more to do on the same day

    clock.advance(days=30)
    lake.put_object(bucket=bucket, key="logs/new.log", body=b"new")
    clock.advance(days=30)  # day 90 for a.log, day 30 for new.log
    assert sorted(_apply(lake, bucket)) == [("Transition", "logs/a.log", "tier-down"),
                                            ("Transition", "logs/new.log", "tier-down")]
    assert lake.head_object(bucket=bucket, key="logs/a.log").storage_class == "GLACIER"
    assert lake.head_object(bucket=bucket, key="logs/new.log").storage_class == "STANDARD_IA"
    with pytest.raises(InvalidObjectState):
        lake.get_object(bucket=bucket, key="logs/a.log")


def test_a_late_run_goes_straight_to_the_coldest_due_class(lake: Any, bucket: str,
                                                           clock: Any) -> None:
    _rules(lake, bucket, {"ID": "r", "Status": "Enabled",
                          "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                                          {"Days": 60, "StorageClass": "GLACIER"}]})
    lake.put_object(bucket=bucket, key="k", body=b"x")
    clock.advance(days=100)
    applied = lake.apply_lifecycle(bucket=bucket).actions
    assert [(a.action, a.detail) for a in applied] == [("Transition", "STANDARD -> GLACIER")]


def test_expiration_deletes_in_an_unversioned_bucket(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "ttl", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                          "Expiration": {"Days": 10}})
    lake.put_object(bucket=bucket, key="tmp/scratch", body=b"x")
    lake.put_object(bucket=bucket, key="keep/me", body=b"x")
    clock.advance(days=9)
    assert _apply(lake, bucket) == []
    assert read(lake, bucket, "tmp/scratch") == b"x"
    clock.advance(days=1)
    assert _apply(lake, bucket) == [("Expire", "tmp/scratch", "ttl")]
    with pytest.raises(NoSuchKey):
        lake.get_object(bucket=bucket, key="tmp/scratch")
    assert keys(lake, bucket) == ["keep/me"]
    assert versions_of(lake, bucket, "tmp/scratch") == ([], [])


def test_expiration_adds_a_delete_marker_in_a_versioned_bucket(lake: Any, versioned: str,
                                                               clock: Any) -> None:
    _rules(lake, versioned, {"ID": "ttl", "Status": "Enabled", "Expiration": {"Days": 10}})
    v1 = lake.put_object(bucket=versioned, key="k", body=b"precious").version_id
    clock.advance(days=10)
    assert _apply(lake, versioned) == [("Expire", "k", "ttl")]
    with pytest.raises(NoSuchKey):
        lake.get_object(bucket=versioned, key="k")
    (objects, markers) = versions_of(lake, versioned, "k")
    assert objects == [(v1, False)]
    assert len(markers) == 1 and markers[0][1] is True
    assert read(lake, versioned, "k", version_id=v1) == b"precious"
    clock.advance(days=10)
    assert _apply(lake, versioned) == []  # a delete marker does not expire again


def check_noncurrent_days_count_from_when_a_version_became_noncurrent(lake: Any,
                                                                      clock: Any) -> None:
    lake.create_bucket(bucket="noncurrent")
    lake.put_bucket_versioning(bucket="noncurrent", versioning_configuration={"Status": "Enabled"})
    _rules(lake, "noncurrent", {"ID": "old-versions", "Status": "Enabled",
                                "NoncurrentVersionExpiration": {"NoncurrentDays": 5}})
    v1 = lake.put_object(bucket="noncurrent", key="k", body=b"one").version_id
    clock.advance(days=10)
    assert _apply(lake, "noncurrent") == []  # v1 is old but still current
    v2 = lake.put_object(bucket="noncurrent", key="k", body=b"two").version_id
    clock.advance(days=4, hours=23)
    assert _apply(lake, "noncurrent") == []  # v1 has been noncurrent for under 5 days
    assert versions_of(lake, "noncurrent", "k") == ([(v2, True), (v1, False)], [])
    clock.advance(hours=1)
    applied = lake.apply_lifecycle(bucket="noncurrent").actions
    assert [(a.action, a.key, a.version_id) for a in applied] == [("ExpireNoncurrent", "k", v1)]
    assert versions_of(lake, "noncurrent", "k") == ([(v2, True)], [])
    assert read(lake, "noncurrent", "k") == b"two"


def test_noncurrent_days_count_from_when_a_version_became_noncurrent(client: Client,
                                                                     clock: Any) -> None:
    check_noncurrent_days_count_from_when_a_version_became_noncurrent(client.lake, clock)


def test_noncurrent_days_count_from_when_a_version_became_noncurrent_on_each_db(
    db_client: Client, clock: Any
) -> None:
    check_noncurrent_days_count_from_when_a_version_became_noncurrent(db_client.lake, clock)


def test_expiration_then_noncurrent_expiration_then_the_lone_marker(lake: Any, versioned: str,
                                                                    clock: Any) -> None:
    _rules(lake, versioned,
           {"ID": "expire", "Status": "Enabled", "Expiration": {"Days": 3},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 2}},
           {"ID": "markers", "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}})
    v1 = lake.put_object(bucket=versioned, key="k", body=b"x").version_id
    clock.advance(days=3)
    assert _apply(lake, versioned) == [("Expire", "k", "expire")]
    clock.advance(days=1)
    assert _apply(lake, versioned) == []  # v1 has been noncurrent for one day only
    clock.advance(days=1)
    applied = lake.apply_lifecycle(bucket=versioned).actions
    assert ("ExpireNoncurrent", "k", v1) in [(a.action, a.key, a.version_id) for a in applied]
    _apply(lake, versioned)  # S3 may take one more run to drop the expired marker
    assert versions_of(lake, versioned, "k") == ([], [])
    lake.delete_bucket(bucket=versioned)  # nothing is left


def test_newer_noncurrent_versions_are_retained(lake: Any, versioned: str, clock: Any) -> None:
    _rules(lake, versioned, {"ID": "keep-one", "Status": "Enabled",
                             "NoncurrentVersionExpiration": {"NoncurrentDays": 1,
                                                             "NewerNoncurrentVersions": 1}})
    ids = []
    for i in range(4):
        ids.append(lake.put_object(bucket=versioned, key="k", body=str(i).encode()).version_id)
        clock.advance(days=10)
    clock.advance(days=-10, hours=12)  # v4 is current; v3 has been noncurrent for 12 hours
    expired = [a.version_id for a in lake.apply_lifecycle(bucket=versioned).actions]
    # v3 is too young to expire, but it is the one newer noncurrent version kept
    assert sorted(expired) == sorted(ids[:2])
    assert versions_of(lake, versioned, "k") == ([(ids[3], True), (ids[2], False)], [])


def test_noncurrent_versions_transition(lake: Any, versioned: str, clock: Any) -> None:
    _rules(lake, versioned, {"ID": "cool-old", "Status": "Enabled",
                             "NoncurrentVersionTransitions": [
                                 {"NoncurrentDays": 30, "StorageClass": "STANDARD_IA"}]})
    v1 = lake.put_object(bucket=versioned, key="k", body=b"1").version_id
    clock.advance(days=5)
    v2 = lake.put_object(bucket=versioned, key="k", body=b"2").version_id
    clock.advance(days=29)
    assert _apply(lake, versioned) == []
    clock.advance(days=1)
    applied = lake.apply_lifecycle(bucket=versioned).actions
    assert [(a.action, a.version_id, a.detail) for a in applied] == [
        ("TransitionNoncurrent", v1, "STANDARD -> STANDARD_IA")]
    assert lake.head_object(bucket=versioned, key="k", version_id=v1).storage_class == "STANDARD_IA"
    assert lake.head_object(bucket=versioned, key="k").storage_class == "STANDARD"
    assert lake.head_object(bucket=versioned, key="k").version_id == v2


def test_size_filters(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "big", "Status": "Enabled",
                          "Filter": {"ObjectSizeGreaterThan": 10}, "Expiration": {"Days": 1}},
           {"ID": "small", "Status": "Enabled",
            "Filter": {"And": {"Prefix": "s/", "ObjectSizeLessThan": 3}},
            "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]})
    lake.put_object(bucket=bucket, key="big", body=b"x" * 11)
    lake.put_object(bucket=bucket, key="ten", body=b"x" * 10)
    lake.put_object(bucket=bucket, key="s/tiny", body=b"x" * 2)
    lake.put_object(bucket=bucket, key="s/three", body=b"x" * 3)
    clock.advance(days=1)
    assert sorted(_apply(lake, bucket)) == [("Expire", "big", "big"),
                                            ("Transition", "s/tiny", "small")]
    assert keys(lake, bucket) == ["s/three", "s/tiny", "ten"]


def test_tag_filters_act_only_on_tagged_objects(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "temp", "Status": "Enabled",
                          "Filter": {"Tag": {"Key": "tier", "Value": "temp"}},
                          "Expiration": {"Days": 1}})
    lake.put_object(bucket=bucket, key="temp", body=b"x", tagging="tier=temp")
    lake.put_object(bucket=bucket, key="temp-and-more", body=b"x", tagging="tier=temp&x=y")
    lake.put_object(bucket=bucket, key="other-value", body=b"x", tagging="tier=keep")
    lake.put_object(bucket=bucket, key="untagged", body=b"x")
    lake.put_object(bucket=bucket, key="tagged-later", body=b"x")
    lake.put_object_tagging(bucket=bucket, key="tagged-later",
                            tagging={"TagSet": [{"Key": "tier", "Value": "temp"}]})
    clock.advance(days=1)
    assert sorted(_apply(lake, bucket)) == [("Expire", "tagged-later", "temp"),
                                            ("Expire", "temp", "temp"),
                                            ("Expire", "temp-and-more", "temp")]
    assert keys(lake, bucket) == ["other-value", "untagged"]


def test_and_filters_need_the_prefix_and_every_tag(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "and", "Status": "Enabled",
                          "Filter": {"And": {"Prefix": "tmp/",
                                             "Tags": [{"Key": "tier", "Value": "temp"},
                                                      {"Key": "owner", "Value": "ci"}]}},
                          "Expiration": {"Days": 1}})
    lake.put_object(bucket=bucket, key="tmp/both", body=b"x", tagging="tier=temp&owner=ci")
    lake.put_object(bucket=bucket, key="tmp/one-tag", body=b"x", tagging="tier=temp")
    lake.put_object(bucket=bucket, key="other/both", body=b"x", tagging="tier=temp&owner=ci")
    clock.advance(days=2)
    assert _apply(lake, bucket) == [("Expire", "tmp/both", "and")]
    assert keys(lake, bucket) == ["other/both", "tmp/one-tag"]


def test_the_older_top_level_prefix_form_works(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "legacy", "Status": "Enabled", "Prefix": "tmp/",
                          "Expiration": {"Days": 1}})
    lake.put_object(bucket=bucket, key="tmp/a", body=b"x")
    lake.put_object(bucket=bucket, key="tmpfile", body=b"x")
    clock.advance(days=1)
    assert _apply(lake, bucket) == [("Expire", "tmp/a", "legacy")]


def test_disabled_rules_do_nothing(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "off", "Status": "Disabled", "Expiration": {"Days": 1},
                          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    lake.put_object(bucket=bucket, key="k", body=b"x")
    upload = lake.create_multipart_upload(bucket=bucket, key="u").upload_id
    clock.advance(days=30)
    assert _apply(lake, bucket) == []
    assert read(lake, bucket, "k") == b"x"
    assert [u.upload_id for u in lake.list_multipart_uploads(bucket=bucket).uploads] == [upload]


def test_incomplete_multipart_uploads_are_aborted(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "uploads/"},
                          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}})
    stale = lake.create_multipart_upload(bucket=bucket, key="uploads/big.bin").upload_id
    lake.upload_part(bucket=bucket, key="uploads/big.bin", upload_id=stale, part_number=1,
                     body=b"part one")
    other = lake.create_multipart_upload(bucket=bucket, key="elsewhere/big.bin").upload_id
    clock.advance(days=6)
    assert _apply(lake, bucket) == []
    clock.advance(days=1)
    applied = lake.apply_lifecycle(bucket=bucket).actions
    assert [(a.action, a.key, a.rule_id, a.detail) for a in applied] == [
        ("AbortIncompleteMultipartUpload", "uploads/big.bin", "abort", stale)]
    assert [u.upload_id for u in lake.list_multipart_uploads(bucket=bucket).uploads] == [other]
    with pytest.raises(NoSuchUpload):
        lake.upload_part(bucket=bucket, key="uploads/big.bin", upload_id=stale, part_number=2,
                         body=b"late")
    with pytest.raises(NoSuchUpload):
        lake.list_parts(bucket=bucket, key="uploads/big.bin", upload_id=stale)


def test_apply_without_a_bucket_runs_every_bucket(lake: Any, clock: Any) -> None:
    for name in ("first-bucket", "second-bucket", "no-rules-bucket"):
        lake.create_bucket(bucket=name)
        lake.put_object(bucket=name, key="k", body=b"x")
    for name in ("first-bucket", "second-bucket"):
        _rules(lake, name, {"ID": name, "Status": "Enabled", "Expiration": {"Days": 1}})
    clock.advance(days=1)
    applied = lake.apply_lifecycle().actions
    assert sorted((a.bucket, a.action, a.key) for a in applied) == [
        ("first-bucket", "Expire", "k"), ("second-bucket", "Expire", "k")]
    assert keys(lake, "no-rules-bucket") == ["k"]


def test_deleted_rules_stop_acting(lake: Any, bucket: str, clock: Any) -> None:
    _rules(lake, bucket, {"ID": "ttl", "Status": "Enabled", "Expiration": {"Days": 1}})
    lake.put_object(bucket=bucket, key="k", body=b"x")
    lake.delete_bucket_lifecycle(bucket=bucket)
    clock.advance(days=5)
    assert _apply(lake, bucket) == []
    assert keys(lake, bucket) == ["k"]
