"""Blob stores: the bytes under the lake, by opaque key, on local disk or S3.

The lake service decides keys and keeps all object metadata in the metadata
DB; a blob store only moves bytes. Open one with :func:`open_blob_store`.
"""

from crispml.core.storage.base import BlobInfo, BlobStore, open_blob_store

__all__ = ["BlobInfo", "BlobStore", "open_blob_store"]
