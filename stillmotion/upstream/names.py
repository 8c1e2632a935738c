"""The upstream providers' names and their default base URLs (light: routing imports it)."""

from __future__ import annotations

# provider -> (module under stillmotion.upstream.providers, default base URL or None: required)
PROVIDERS: dict[str, tuple[str, str | None]] = {
    "shortapi": ("job", "https://api.shortapi.ai"),
    "novita": ("async_task", "https://api.novita.ai"),
    "highway": ("async_task", None),  # the async-task dialect at the operator's own base URL
    "openai-videos": ("openai_videos", None),  # any /v1/videos server: its base URL is the operator's
    "vidu": ("vidu", "https://api.vidu.com"),
}
