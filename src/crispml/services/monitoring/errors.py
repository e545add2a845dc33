"""Monitoring errors, with CloudWatch Logs' and CloudWatch's error codes.

::

    InvalidArgument  ── InvalidParameterException            (Logs) a value Logs would refuse: a bad name,
                                                              events out of order, a batch over its limits,
                                                              a page token not made by this service
                     ── InvalidParameterValueException        (metrics) code InvalidParameterValue: a bad
                                                              value, a period, a statistic, a timestamp
                     ── InvalidParameterCombinationException  (metrics) code InvalidParameterCombination:
                                                              values that do not go together (too many
                                                              data points for the period and range)
                     ── MissingRequiredParameterException     (metrics) code MissingParameter
    NotFound         ── ResourceNotFoundException             no such log group or log stream
    AlreadyExists    ── ResourceAlreadyExistsException        CreateLogGroup/CreateLogStream of a name that exists

CloudWatch (metrics) names its codes without the ``Exception`` suffix on the
wire; the classes keep the SDK's exception names.
"""

from crispml.core.errors import AlreadyExists, InvalidArgument, ResourceNotFoundException

#: The service's errors, AWS's shared names among them.
__all__ = ["InvalidParameterCombinationException", "InvalidParameterException", "InvalidParameterValueException",
           "MissingRequiredParameterException", "ResourceAlreadyExistsException", "ResourceNotFoundException"]


class InvalidParameterException(InvalidArgument):
    code = "InvalidParameterException"


class ResourceAlreadyExistsException(AlreadyExists):
    code = "ResourceAlreadyExistsException"


class InvalidParameterValueException(InvalidArgument):
    code = "InvalidParameterValue"


class InvalidParameterCombinationException(InvalidArgument):
    code = "InvalidParameterCombination"


class MissingRequiredParameterException(InvalidArgument):
    code = "MissingParameter"
