"""Artifact storage: inputs and results as objects (a local directory or S3-compatible object
storage, `open_store`), results served through signed, expiring URLs."""

from stillmotion.storage.base import (
           ArtifactStore,
           StorageUnavailable,
           UrlSigner,
           media_type,
)
from stillmotion.storage.local import LocalArtifactStore, load_secret
from stillmotion.storage.open import open_store

__all__ = ["ArtifactStore", "LocalArtifactStore", "StorageUnavailable", "UrlSigner", "load_secret", "media_type",
           "open_store"]
