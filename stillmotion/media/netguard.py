"""SSRF-guarded HTTP fetching for anything a user names by URL (images, audio, watermarks).

A URL is only fetched when every address its host resolves to is public, and the connection
then goes to the very address that was checked (the URL host is rewritten to that IP, the
original name travels in the Host header and as the TLS SNI/certificate name), so a DNS answer
that changes between the check and the connect (rebinding) cannot reach an internal service.
Redirects are followed by hand so every hop is checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from stillmotion.errors import FieldInvalid, ImageDownloadFailure, PayloadTooLarge, StillmotionError
from stillmotion.settings import Settings

_SCHEMES = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USER_AGENT = "stillmotion/0.1 (+media fetch)"


def is_public_address(ip: str) -> bool:
    """True when `ip` is a globally routable unicast address (v4 or v6).

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address, so
    `::ffff:127.0.0.1` or `2002:7f00:1::` cannot sneak a loopback target past the check.
    """
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if addr.teredo is not None:
            return False
        if embedded is not None:
            return _is_public(embedded)
    return _is_public(addr)


def _is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # is_global alone lets multicast through (224/4 is not "private"), so list every flag.
    return addr.is_global and not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order (blocking; tests replace it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = str(sockaddr[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def _parse(url: str, field: str, error: type[StillmotionError]) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise error("malformed URL", field=field) from None
    if not parsed.scheme:  # a placeholder such as "CALLBACK_URL", or a URL without its scheme
        raise error(f"{url!r} is not an http(s) URL", field=field)
    if parsed.scheme not in _SCHEMES:
        raise error(f"unsupported URL scheme {parsed.scheme!r}; use http or https", field=field)
    if not parsed.host:
        raise error("URL has no host", field=field)
    return parsed


def _host(url: httpx.URL) -> str:
    return url.raw_host.decode("ascii")  # IDNA-encoded, brackets stripped from IPv6


def _port(url: httpx.URL) -> int:
    return url.port or _SCHEMES[url.scheme]


def _checked_addresses(host: str, ips: list[str], field: str, error: type[StillmotionError]) -> list[str]:
    if not ips:
        raise error(f"could not resolve host {host!r}", field=field)
    for ip in ips:
        if not is_public_address(ip):
            raise error(f"refused URL: host {host!r} resolves to non-public address {ip}", field=field)
    return ips


def check_url(url: str, *, field: str, settings: Settings) -> None:
    """Refuse (FieldInvalid) a URL that is not http(s) or whose host resolves to a non-public
    address. Blocking (DNS); meant for callback URLs at submit time, run it off the event loop.
    """
    if not isinstance(url, str) or not url:
        raise FieldInvalid("must be a URL string", field=field)
    parsed = _parse(url, field, FieldInvalid)
    if settings.allow_private_urls:
        return
    host = _host(parsed)
    try:
        ips = resolve_host(host, _port(parsed))
    except (OSError, UnicodeError):
        raise FieldInvalid(f"could not resolve host {host!r}", field=field) from None
    _checked_addresses(host, ips, field, FieldInvalid)


async def _guarded_targets(url: httpx.URL, field: str, settings: Settings) -> list[str] | None:
    """The checked addresses to connect to, or None to connect by name (private URLs allowed)."""
    if settings.allow_private_urls:
        return None
    host = _host(url)
    try:
        ips = await asyncio.get_running_loop().run_in_executor(None, resolve_host, host, _port(url))
    except (OSError, UnicodeError):
        raise ImageDownloadFailure(f"could not resolve host {host!r}", field=field) from None
    return _checked_addresses(host, ips, field, ImageDownloadFailure)


def _pinned_request(
    client: httpx.AsyncClient, url: httpx.URL, ip: str | None, timeout: float
) -> httpx.Request:
    # identity: media is compressed already, and a gzip body could inflate far past max_bytes
    # inside a single chunk before the size check sees it.
    headers = {"User-Agent": _USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"}
    if ip is None:
        return client.build_request("GET", url, headers=headers, timeout=timeout)
    # Connect to the checked IP; the server still sees the name it expects.
    headers["Host"] = url.netloc.decode("ascii")
    # A shared client pools connections by (scheme, IP, port); closing each one keeps a
    # TLS session negotiated for one name from serving a request for another name on that IP.
    headers["Connection"] = "close"
    extensions = {"sni_hostname": _host(url)} if url.scheme == "https" else {}
    return client.build_request(
        "GET", url.copy_with(host=ip), headers=headers, extensions=extensions, timeout=timeout
    )


async def _open(
    client: httpx.AsyncClient, url: httpx.URL, targets: list[str] | None, field: str, timeout: float
) -> httpx.Response:
    """Send the request, trying each checked address in turn until one accepts the connection."""
    last: Exception | None = None
    for ip in targets or [None]:
        try:
            request = _pinned_request(client, url, ip, timeout)
            return await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as exc:
            last = exc
    raise ImageDownloadFailure(f"download failed: could not connect ({last})", field=field) from last


async def _read_body(response: httpx.Response, field: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"larger than the {size_text(max_bytes)} limit", field=field)
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise PayloadTooLarge(f"larger than the {size_text(max_bytes)} limit", field=field)
        chunks.append(chunk)
    return b"".join(chunks)


async def _fetch(
    client: httpx.AsyncClient, url: httpx.URL, field: str, settings: Settings, max_bytes: int
) -> bytes:
    for _hop in range(settings.max_redirects + 1):
        targets = await _guarded_targets(url, field, settings)
        response = await _open(client, url, targets, field, settings.download_timeout_s)
        try:
            if response.is_redirect:
                location = response.headers["location"]
                try:
                    url = _parse(str(url.join(location)), field, ImageDownloadFailure)
                except httpx.InvalidURL:
                    raise ImageDownloadFailure("download failed: bad redirect location", field=field) from None
                continue
            if not response.is_success:
                raise ImageDownloadFailure(f"download failed: HTTP {response.status_code}", field=field)
            return await _read_body(response, field, max_bytes)
        finally:
            await response.aclose()
    raise ImageDownloadFailure(
        f"download failed: too many redirects (more than {settings.max_redirects})", field=field
    )


async def fetch_url(
    url: str,
    *,
    field: str,
    settings: Settings,
    max_bytes: int,
    client: httpx.AsyncClient | None = None,
) -> bytes:
    """GET `url` through the SSRF guard and return the body (at most `max_bytes`).

    The whole download, DNS and redirects included, is bounded by `settings.download_timeout_s`.
    Raises FieldInvalid (not http/https), ImageDownloadFailure (refused address, DNS, connect,
    non-2xx, timeout, too many redirects) or PayloadTooLarge.
    """
    if not isinstance(url, str) or not url:
        raise FieldInvalid("must be a URL string", field=field)
    parsed = _parse(url, field, FieldInvalid)
    limit = settings.download_timeout_s
    own = client is None
    if client is None:
        # trust_env=False: through an HTTPS proxy tunnel httpcore verifies the certificate
        # against the URL host, which is the pinned IP here, so pinned https would fail.
        client = httpx.AsyncClient(timeout=limit, follow_redirects=False, trust_env=False)
    try:
        async with asyncio.timeout(limit):
            return await _fetch(client, parsed, field, settings, max_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise ImageDownloadFailure(f"download failed: timed out after {limit:g} s", field=field) from None
    except httpx.HTTPError as exc:
        raise ImageDownloadFailure(f"download failed: {type(exc).__name__}: {exc}", field=field) from exc
    finally:
        if own:
            await client.aclose()


def size_text(n: int) -> str:
    """A byte limit as people write it: "50 MB", or the exact count when not whole megabytes."""
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n} bytes"
