"""The error tree: stable codes, one HTTP table, built-in bases, rebuilding from a code."""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import pkgutil

import pytest

import crispml.services
from crispml.core import errors
from crispml.core.errors import (
    ERRORS_BY_CODE,
    HTTP_STATUS,
    AlreadyExists,
    Conflict,
    CrispmlError,
    Internal,
    InvalidArgument,
    LimitExceeded,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    error_from_code,
)

#: The documented tree: class, code, HTTP status, the built-in it also is (or None).
TREE = [
    (InvalidArgument, "InvalidArgument", 400, ValueError),
    (NotFound, "NotFound", 404, LookupError),
    (AlreadyExists, "AlreadyExists", 409, None),
    (Conflict, "Conflict", 409, None),
    (PermissionDenied, "AccessDenied", 403, PermissionError),
    (Unauthenticated, "Unauthenticated", 401, PermissionError),
    (LimitExceeded, "LimitExceeded", 429, None),
    (Unavailable, "Unavailable", 503, ConnectionError),
    (Internal, "Internal", 500, RuntimeError),
]
FAMILIES = tuple(cls for cls, *_ in TREE)


def _all_error_classes() -> list[type[CrispmlError]]:
    # every service's errors, so the checks cover the whole tree as it grows
    for info in pkgutil.iter_modules(crispml.services.__path__, "crispml.services."):
        if info.ispkg and importlib.util.find_spec(f"{info.name}.errors") is not None:
            importlib.import_module(f"{info.name}.errors")
    seen: list[type[CrispmlError]] = []
    todo: list[type[CrispmlError]] = [CrispmlError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                todo.append(sub)
    return seen


@pytest.mark.parametrize(("cls", "code", "status", "builtin"), TREE, ids=[c.__name__ for c, *_ in TREE])
def test_family_code_status_and_builtin(
    cls: type[CrispmlError], code: str, status: int, builtin: type[BaseException] | None
) -> None:
    error = cls("something was wrong; do this instead")
    assert isinstance(error, CrispmlError)
    assert error.code == code
    assert error.http_status == status
    assert str(error) == error.message == "something was wrong; do this instead"
    if builtin is not None:
        assert isinstance(error, builtin)
        with pytest.raises(builtin):
            raise error


def test_families_that_are_not_builtins_are_not_caught_as_one() -> None:
    assert not isinstance(AlreadyExists("x"), LookupError | ValueError | RuntimeError)
    assert not isinstance(NotFound("x"), ValueError)
    assert not isinstance(Unauthenticated("x"), ConnectionError)


def test_the_http_table_covers_exactly_the_families() -> None:
    assert set(HTTP_STATUS) == {cls.family for cls in FAMILIES}
    assert CrispmlError("x").http_status == 500  # the root itself is an internal error


def test_the_module_docstring_draws_every_family() -> None:
    doc = errors.__doc__ or ""
    for cls, code, status, _ in TREE:
        assert cls.__name__ in doc and code in doc and str(status) in doc


def test_service_errors_inherit_the_status_of_their_family() -> None:
    for cls in _all_error_classes():
        family = next(f for f in FAMILIES if issubclass(cls, f))
        assert cls("x").http_status == family("x").http_status, cls


def test_every_code_rebuilds_a_class_the_original_is_an_instance_of() -> None:
    # a code reused by a subclass (iam's AccessDenied) must at least rebuild its parent
    for cls in _all_error_classes():
        original = cls("boom", bucket="b")
        rebuilt = error_from_code(original.code, original.message, **original.details)
        assert isinstance(original, type(rebuilt)), (cls, type(rebuilt))
        assert rebuilt.code == original.code
        assert rebuilt.http_status == original.http_status
        assert rebuilt.to_dict() == original.to_dict()


@pytest.mark.parametrize("cls", FAMILIES, ids=[c.__name__ for c in FAMILIES])
def test_round_trip_through_to_dict(cls: type[CrispmlError]) -> None:
    original = cls("table 'sales.orders' has no column 'region'", table="sales.orders")
    payload = original.to_dict()
    assert payload == {"code": original.code, "message": original.message,
                       "details": {"table": "sales.orders"}}
    rebuilt = error_from_code(**{"code": payload["code"], "message": payload["message"]},
                              **payload["details"])
    assert type(rebuilt) is cls
    assert rebuilt.details == {"table": "sales.orders"}


def test_to_dict_omits_empty_details() -> None:
    assert NotFound("no such thing").to_dict() == {"code": "NotFound", "message": "no such thing"}


def test_unknown_code_becomes_internal() -> None:
    error = error_from_code("SomethingNew", "a newer server said so")
    assert type(error) is Internal
    assert error.http_status == 500
    assert error.message == "a newer server said so"


def test_codes_of_the_families_are_registered_to_them() -> None:
    for cls, code, *_ in TREE:
        assert ERRORS_BY_CODE[code] is cls


def test_errors_survive_pickling() -> None:
    # errors cross process boundaries (job executors)
    original = Conflict("bucket 'b' is not empty", bucket="b")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is Conflict
    assert copy.message == original.message and copy.details == {"bucket": "b"}
