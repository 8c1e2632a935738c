"""stillmotion: a self-hosted image-to-video service."""

__version__ = "0.1.0"
