"""A job's states, the moves between them, and why a job failed.

    queued ──claim──► processing ──finish──► succeeded
      │  ▲                │  │
      │  └─release/retry──┘  ├──fail (not retried, or attempts used up)──► failed
      │     reap (lease lost)│
      └──cancel / fail / off-peak expiry─┴──cancel──► canceled

Every move is one guarded write in the repository: it names the state it expects, so a move
that lost a race changes nothing. Final states never change again.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
OPEN = (JobStatus.QUEUED, JobStatus.PROCESSING)

# The allowed moves (tests/jobs check every repository against this table).
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PROCESSING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.PROCESSING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.QUEUED}
    ),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELED: frozenset(),
}


class FailureCode(StrEnum):
    """Why a job ended without a video; the value is the code every dialect shows."""

    GENERATION_FAILURE = "GenerationFailure"  # the engine could not make this clip
    ENGINE_CRASHED = "EngineCrashed"  # the engine process died or raised unexpectedly
    ATTEMPTS_EXHAUSTED = "AttemptsExhausted"  # retried max_attempts times
    FIELD_INVALID = "FieldInvalid"  # an input found bad only at render time
    IMAGE_DOWNLOAD_FAILURE = "ImageDownloadFailure"
    AUDIO_DOWNLOAD_FAILURE = "AudioDownloadFailure"
    AUDIO_INVALID = "AudioInvalid"  # the music file is not audio we can decode
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"  # a file fetched at render time is over its limit
    STORAGE_FAILURE = "StorageFailure"  # the result could not be written
    CANCELED = "Canceled"
    OFF_PEAK_EXPIRED = "OffPeakExpired"

    @classmethod
    def of(cls, reason: str) -> FailureCode:
        """The code for an error's public reason; unknown reasons are generation failures."""
        try:
            return cls(reason)
        except ValueError:
            return cls.GENERATION_FAILURE
