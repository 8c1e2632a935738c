"""Artifact storage: inputs and results as files, results served through signed, expiring URLs."""

from stillmotion.storage.local import ArtifactStore, load_secret

__all__ = ["ArtifactStore", "load_secret"]
