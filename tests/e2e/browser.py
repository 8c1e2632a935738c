"""A real headless Chromium for the page tests: Debian's `chromium` driven by Playwright.

Playwright's own browser download is not used (`./scripts/setup --test` installs Debian's
chromium); without a browser the tests skip, saying how to get one. Every context records each
request the page makes and refuses any that leaves the service's origin, so a page that needs
the network fails here the way it would on an offline box.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NO_BROWSER = ("no headless browser: install Debian's chromium (./scripts/setup --test does) and the playwright "
              "package, or point STILLMOTION_CHROMIUM at a Chromium binary")


def chromium_path() -> str | None:
    for candidate in (os.environ.get("STILLMOTION_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def screenshot_dir(tmp_path: Path) -> Path:
    """Where page screenshots go: STILLMOTION_SCREENSHOTS (e.g. docs/screenshots) or the test's tmp dir."""
    target = Path(os.environ.get("STILLMOTION_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(NO_BROWSER)
    if path is None:
        pytest.skip(NO_BROWSER)
    with sync_playwright() as pw:  # Playwright gives each launch a fresh, temporary profile
        browser = pw.chromium.launch(executable_path=path, args=FLAGS)
        yield browser
        browser.close()


class Page:
    """A fresh browser context on `base`, with every request it makes recorded in `requests`
    and every one outside `base`'s origin refused and listed in `outside`."""

    def __init__(self, browser: object, base: str, **context: object) -> None:
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
        self.context = browser.new_context(**context)  # type: ignore[attr-defined]
        self.requests: list[str] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        self.requests.append(url)
        if url.startswith(("data:", "blob:")) or url.startswith(self.origin + "/"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    def close(self) -> None:
        self.context.close()
