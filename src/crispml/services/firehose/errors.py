"""Firehose errors, with Firehose's error codes.

::

    InvalidArgument  ── InvalidArgumentException   a value Firehose would refuse (name, limits, prefixes,
                                                    a destination, table or processor that is not usable)
    NotFound         ── ResourceNotFoundException  no such delivery stream
    Conflict         ── ResourceInUseException     the name is taken, or the stream is not ACTIVE (DELETING)
    Unavailable      ── DeliveryFailedException    a delivery could not write to its destination; the records
                                                    stay buffered and a later flush delivers them
"""

from crispml.core.errors import InvalidArgumentException, ResourceInUseException, ResourceNotFoundException, Unavailable

#: The service's errors, AWS's shared names among them.
__all__ = ["DeliveryFailedException", "InvalidArgumentException", "ResourceInUseException", "ResourceNotFoundException"]

class DeliveryFailedException(Unavailable):
    code = "DeliveryFailedException"
