"""Resource names (CRNs): format, parse, reject, match."""

from __future__ import annotations

import pytest

from crispml.core.errors import InvalidArgument
from crispml.core.names import CRN, crn, crn_matches


def test_format_without_region_and_account() -> None:
    assert crn("lake", "bucket/demo-raw") == "crn:crispml:lake:::bucket/demo-raw"


def test_format_with_region_and_account() -> None:
    name = crn("training", "training-job/churn-xgb-1", region="default", account="123456789012")
    assert name == "crn:crispml:training:default:123456789012:training-job/churn-xgb-1"


@pytest.mark.parametrize("text", [
    "crn:crispml:lake:::bucket/demo-raw",
    "crn:crispml:training:default::training-job/churn-xgb-1",
    "crn:crispml:iam::000000000042:root",
    "crn:crispml:lake:::object/b/a:b:c/with spaces/ü",  # keys may hold colons
])
def test_parse_round_trips(text: str) -> None:
    parsed = CRN.parse(text)
    assert str(parsed) == text
    assert CRN.parse(str(parsed)) == parsed


def test_parse_splits_the_fields() -> None:
    parsed = CRN.parse("crn:crispml:training:default:123456789012:training-job/a:b")
    assert parsed == CRN(service="training", region="default", account="123456789012",
                         resource="training-job/a:b")


@pytest.mark.parametrize("text", [
    "",
    "bucket/demo-raw",
    "arn:aws:s3:::demo-raw",                  # an AWS ARN is not a CRN
    "crn:other:lake:::bucket/x",              # wrong partition
    "crn:crispml::::bucket/x",                # no service
    "crn:crispml:lake:bucket/x",              # too few parts
    "crn:crispml:training:default:training-job/x",  # region but no account field
    "crn:crispml:lake:::",                    # no resource
])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"crn:crispml:<service>:<region>:<account>:<resource>"):
        CRN.parse(text)


def test_rejection_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        CRN.parse("nope")


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("crn:crispml:lake:::bucket/*", "crn:crispml:lake:::bucket/demo-raw", True),
    ("crn:crispml:lake:::bucket/*", "crn:crispml:lake:::object/demo-raw/a.csv", False),
    ("crn:crispml:lake:::object/demo-raw/*", "crn:crispml:lake:::object/demo-raw/x/y.csv", True),
    ("crn:crispml:lake:::object/demo-raw/?.csv", "crn:crispml:lake:::object/demo-raw/a.csv", True),
    ("crn:crispml:lake:::object/demo-raw/?.csv", "crn:crispml:lake:::object/demo-raw/ab.csv", False),
    ("crn:crispml:*", "crn:crispml:iam::000000000042:root", True),
    ("crn:crispml:lake:::bucket/Demo", "crn:crispml:lake:::bucket/demo", False),  # case matters
    # only * and ? are wildcards, as in IAM: brackets and dots match themselves
    ("crn:crispml:lake:::object/b/[ab].csv", "crn:crispml:lake:::object/b/a.csv", False),
    ("crn:crispml:lake:::object/b/[ab].csv", "crn:crispml:lake:::object/b/[ab].csv", True),
    ("crn:crispml:lake:::object/b/a.csv", "crn:crispml:lake:::object/b/aXcsv", False),
    ("crn:crispml:lake:::object/b/*", "crn:crispml:lake:::object/b/line\nbreak", True),
])
def test_wildcard_matching(pattern: str, name: str, expected: bool) -> None:
    assert crn_matches(pattern, name) is expected
