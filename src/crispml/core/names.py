"""Resource names (CRNs), crispml's ARNs.

``crn:crispml:<service>:<region>:<account>:<resource>``, for example
``crn:crispml:lake:::bucket/demo-raw`` or
``crn:crispml:training:default::training-job/churn-xgb-1``. Region and account
may be empty, as in S3 ARNs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from crispml.core.errors import InvalidArgument


@dataclass(frozen=True)
class CRN:
    service: str
    resource: str
    region: str = ""
    account: str = ""

    def __str__(self) -> str:
        return f"crn:crispml:{self.service}:{self.region}:{self.account}:{self.resource}"

    @classmethod
    def parse(cls, text: str) -> CRN:
        parts = text.split(":", 5)
        if (len(parts) != 6 or parts[0] != "crn" or parts[1] != "crispml" or not parts[2]
                or not parts[5]):
            raise InvalidArgument(
                f"{text!r} is not a resource name; expected "
                "'crn:crispml:<service>:<region>:<account>:<resource>'"
            )
        return cls(service=parts[2], region=parts[3], account=parts[4], resource=parts[5])


def crn(service: str, resource: str, *, region: str = "", account: str = "") -> str:
    """Format a CRN string."""
    return str(CRN(service=service, resource=resource, region=region, account=account))


def crn_matches(pattern: str, name: str) -> bool:
    """Whether a CRN matches a pattern with ``*`` and ``?`` wildcards (IAM style).

    Only ``*`` (any run of characters, ``/`` and ``:`` included) and ``?`` (one
    character) are special; everything else, brackets included, matches itself,
    as in IAM policies (fnmatch would read ``[ab]`` as a character class).
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, name, flags=re.DOTALL) is not None
