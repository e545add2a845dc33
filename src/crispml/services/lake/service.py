"""The lake service (S3): one class combining the operation groups.

Buckets (``buckets.py``), objects (``objects.py``), listings (``listing.py``),
multipart uploads (``multipart.py``) and lifecycle rules (``lifecycle_ops.py``)
share the helpers in ``core.py``. Bytes move through the platform's blob store;
all object metadata lives in the metadata DB. The ``lake://`` filesystem in
``fs.py`` is built on these operations.
"""

from __future__ import annotations

from crispml.services.lake.buckets import BucketOps
from crispml.services.lake.lifecycle_ops import LifecycleOps
from crispml.services.lake.listing import ListingOps
from crispml.services.lake.multipart import MultipartOps
from crispml.services.lake.objects import ObjectOps
from crispml.spine.operations import Service


class LakeService(Service, BucketOps, ObjectOps, ListingOps, MultipartOps, LifecycleOps):
    name = "lake"
