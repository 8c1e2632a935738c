"""HTTP layer: thin handlers that parse a dialect, call the JobService and shape the response."""

from stillmotion.api.app import create_app

__all__ = ["create_app"]
