"""IAM errors."""

from crispml.core.errors import PermissionDenied, Unauthenticated


class UnknownPrincipal(Unauthenticated):
    code = "UnrecognizedClientException"


class InactivePrincipal(Unauthenticated):
    code = "InvalidClientTokenId"


class AccessDenied(PermissionDenied):
    code = "AccessDenied"
