"""One exception tree for the whole service.

Each error carries the HTTP status and the public reason code that the dialects put on the
wire, plus the field it concerns, so a handler never has to guess how to present it.
"""

from __future__ import annotations


class StillmotionError(Exception):
    """Base of every error the service raises on purpose."""

    status: int = 500
    reason: str = "InternalError"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        self.message = f"{field}: {message}" if field else message
        super().__init__(self.message)


class FieldInvalid(StillmotionError):
    """A request field is missing, of the wrong type, or out of range."""

    status = 400
    reason = "FieldInvalid"


class PayloadTooLarge(FieldInvalid):
    """A body, image or file exceeds its size limit."""

    status = 413
    reason = "PayloadTooLarge"


class ImageDownloadFailure(FieldInvalid):
    """An input URL could not be fetched (refused address, timeout, HTTP error)."""

    reason = "ImageDownloadFailure"


class Unauthorized(StillmotionError):
    status = 401
    reason = "Unauthorized"


class NotFound(StillmotionError):
    status = 404
    reason = "NotFound"


class Conflict(StillmotionError):
    status = 409
    reason = "Conflict"


class CreditInsufficient(StillmotionError):
    status = 402
    reason = "CreditInsufficient"


class RateLimited(StillmotionError):
    status = 429
    reason = "RateLimited"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(StillmotionError):
    """The service cannot store work now (disk full, database not writable): try again later.
    Nothing was stored or charged."""

    status = 503
    reason = "ServiceUnavailable"

    def __init__(self, message: str, *, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GenerationFailed(StillmotionError):
    """An engine could not produce the video; the job fails visibly and is refunded."""

    status = 500
    reason = "GenerationFailure"


class EngineCrashed(StillmotionError):
    """The engine's process died or hung: not the job's fault, so the run is retried by policy
    (each try counted, so a job that always hangs ends as AttemptsExhausted)."""

    status = 500
    reason = "EngineCrashed"


class StorageFailure(StillmotionError):
    """The artifact store (a disk, an S3 endpoint) could not be reached or refused a write:
    a submit is refused with nothing charged; a run is retried by the policy."""

    status = 503
    reason = "StorageFailure"


class Canceled(StillmotionError):
    """Raised inside a run when the job was canceled or the worker must let it go."""

    status = 409
    reason = "Canceled"
