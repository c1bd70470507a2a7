"""Blob storage for documents: the interface (base), a directory and a PostgreSQL backend.

`blob_store(settings, engine)` picks the backend named by DOSSIER_BLOB_STORE: `directory`
(the default, under DOSSIER_BLOB_DIR) or `postgresql` (chunked rows in the read-model
database, for several API hosts sharing it).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from infra.blobs.base import (
    CONTENT_ERASED,
    BlobEmpty,
    BlobError,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    ContentErased,
    StoredBlob,
)
from infra.blobs.database import DatabaseBlobStore
from infra.blobs.directory import DirectoryBlobStore
from infra.settings import Settings

__all__ = [
    "CONTENT_ERASED",
    "BlobEmpty",
    "BlobError",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "ContentErased",
    "DatabaseBlobStore",
    "DirectoryBlobStore",
    "StoredBlob",
    "blob_store",
]


def blob_store(settings: Settings, engine: sa.Engine) -> BlobStore:
    """The configured backend (DOSSIER_BLOB_STORE, DOSSIER_BLOB_DIR)."""
    if settings.blob_store == "postgresql":
        return DatabaseBlobStore(engine)
    return DirectoryBlobStore(Path(settings.blob_dir))
