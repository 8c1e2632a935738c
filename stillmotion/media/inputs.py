"""Input images: resolve a reference (URL, data URI, bare base64) to validated bytes.

Validation runs on every submit, so it reads the header first and refuses what it can before
any pixel is decoded (format, pixel count, side, aspect); only then does it decode once, to
refuse truncated files that a worker would otherwise fail on minutes later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import struct
import zlib
from dataclasses import dataclass

import anyio
import httpx
import numpy as np
from PIL import Image

from stillmotion.errors import FieldInvalid, PayloadTooLarge
from stillmotion.media.imaging import decode_slot, exif_orientation
from stillmotion.media.netguard import fetch_url, size_text
from stillmotion.settings import Settings

# Pillow format name -> (our format, file extension). MPO is how Pillow names the
# multi-picture JPEGs many phone cameras write; it is a JPEG to everyone else.
_ACCEPTED = {"JPEG": ("jpeg", "jpg"), "MPO": ("jpeg", "jpg"), "PNG": ("png", "png"), "WEBP": ("webp", "webp")}
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")  # Pillow parses nothing else, not even a header
_MAX_ASPECT = 4
_ORIENTATION = 0x0112
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WHITESPACE = " \t\r\n"
_NOT_A_REF = "not an http(s) URL, a data URI or base64 image data"


@dataclass(frozen=True)
class ImageData:
    data: bytes
    format: str  # 'jpeg' | 'png' | 'webp'
    width: int  # as displayed: EXIF orientation applied
    height: int
    sha256: str
    ext: str  # 'jpg' | 'png' | 'webp'


async def load_image(
    ref: str, *, field: str, settings: Settings, client: httpx.AsyncClient | None = None
) -> ImageData:
    """Fetch or decode `ref` and validate it; every refusal names `field`."""
    data = await fetch_image_data(ref, field=field, settings=settings, client=client)
    # Off the event loop: Pillow releases the GIL while decoding, so submits use every core.
    return await anyio.to_thread.run_sync(
        lambda: validate_image_bytes(data, field=field, settings=settings)
    )


async def fetch_image_data(
    ref: str, *, field: str, settings: Settings, client: httpx.AsyncClient | None = None
) -> bytes:
    """The bytes `ref` names (downloaded, or decoded from a data URI), not yet validated:
    callers pass them to `validate_image_bytes` (off the event loop)."""
    if not isinstance(ref, str):
        raise FieldInvalid("must be a string: an http(s) URL or a data URI", field=field)
    ref = ref.strip()
    if not ref:
        raise FieldInvalid("is empty", field=field)
    scheme = _SCHEME.match(ref)
    if scheme is None or scheme.group(0).lower() == "data:":
        # Decoding megabytes of base64 takes milliseconds of CPU: off the event loop.
        data = await anyio.to_thread.run_sync(
            lambda: decode_data_uri(ref, field=field, max_bytes=settings.max_image_bytes))
        if scheme is None and not _has_image_magic(data):  # "photo.png" also decodes as base64
            raise FieldInvalid(_NOT_A_REF, field=field)
        return data
    if scheme.group(0).lower() in ("http:", "https:"):
        return await fetch_url(
            ref, field=field, settings=settings, max_bytes=settings.max_image_bytes, client=client
        )
    shown = scheme.group(0)[:-1]
    raise FieldInvalid(f"unsupported URL scheme {shown!r}; use an http(s) URL or a data URI", field=field)


def decode_data_uri(ref: str, *, field: str, max_bytes: int) -> bytes:
    """Decode `data:image/...;base64,...` or bare base64, refusing oversize input before decoding."""
    text = ref.strip()
    bare = text[:5].lower() != "data:"
    if bare:
        payload = text
    else:
        header, comma, payload = text.partition(",")
        if not comma:
            raise FieldInvalid("malformed data URI: no ',' before the data", field=field)
        params = [p.strip().lower() for p in header[5:].split(";")]
        if params[0] and not params[0].startswith("image/"):
            raise FieldInvalid(f"data URI must hold an image, not {params[0]}", field=field)
        if "base64" not in params[1:]:
            raise FieldInvalid("data URI must be base64-encoded (data:image/...;base64,...)", field=field)
    # Estimate the decoded size from the text length, so oversize input is refused undecoded.
    # Line breaks only shrink the estimate; they are counted only when the length alone is over.
    pad = payload[-2:].count("=")
    chars = len(payload)
    if chars * 3 // 4 - pad > max_bytes:
        chars -= sum(payload.count(c) for c in _WHITESPACE)
        if chars * 3 // 4 - pad > max_bytes:
            raise PayloadTooLarge(f"larger than the {size_text(max_bytes)} limit", field=field)
    try:
        data = _b64decode(payload)
    except (binascii.Error, ValueError):
        what = _NOT_A_REF if bare else "data URI holds invalid base64"
        raise FieldInvalid(what, field=field) from None
    if not data:
        raise FieldInvalid("image data is empty", field=field)
    return data


def _b64decode(text: str) -> bytes:
    """Strict base64 that also takes the URL-safe alphabet, missing padding and line breaks."""
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        compact = "".join(text.split())  # only now: scanning for whitespace costs on big input
        if len(compact) == len(text):
            raise
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)


def validate_image_bytes(data: bytes, *, field: str, settings: Settings) -> ImageData:
    """Check format, pixel count, size and aspect from the header, then decode once."""
    if len(data) > settings.max_image_bytes:
        raise PayloadTooLarge(f"larger than the {size_text(settings.max_image_bytes)} limit", field=field)
    try:
        im = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except Image.DecompressionBombError:
        raise _bomb(field, settings) from None
    except Image.UnidentifiedImageError:
        other = sniff_format(data)
        if other:
            raise FieldInvalid(f"unsupported format {other}; use jpg, png or webp", field=field) from None
        raise FieldInvalid("not an image (expected jpg, png or webp)", field=field) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        raise FieldInvalid("truncated or corrupt image data", field=field) from None
    with im:
        accepted = _ACCEPTED.get(im.format or "")
        if accepted is None:
            raise FieldInvalid(f"unsupported format {im.format}; use jpg, png or webp", field=field)
        w, h = im.size
        _check_geometry(w, h, field, settings)
        with decode_slot():  # the process's budget of concurrent decodes
            png = _png_verified(data, w, h) if im.format == "PNG" else None
            if png is None:
                _decode(im, field)
                orientation = exif_orientation(im)
            else:
                orientation = _exif_orientation(png)
        if orientation in (5, 6, 7, 8):
            w, h = h, w
    fmt, ext = accepted
    return ImageData(data, fmt, w, h, hashlib.sha256(data).hexdigest(), ext)


def _check_geometry(w: int, h: int, field: str, settings: Settings) -> None:
    # Side and aspect limits are symmetric, so the stored (pre-rotation) size decides them.
    if w * h > settings.max_image_pixels:
        raise FieldInvalid(
            f"{w}x{h} is {w * h} pixels, over the limit of {settings.max_image_pixels}", field=field
        )
    if min(w, h) < settings.min_image_side:
        raise FieldInvalid(
            f"{w}x{h} is too small; each side must be at least {settings.min_image_side} px", field=field
        )
    if max(w, h) > _MAX_ASPECT * min(w, h):
        raise FieldInvalid(f"aspect ratio of {w}x{h} is outside 1:4 to 4:1", field=field)


def _decode(im: Image.Image, field: str) -> None:
    """Decode every byte of pixel data so truncation shows now, not in the worker."""
    if im.format in ("JPEG", "MPO"):
        # DCT scaling still walks the whole entropy-coded stream (truncation is caught) but
        # does a fraction of the work: a 12 MP photo checks in milliseconds.
        im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
    try:
        im.load()
    except Image.DecompressionBombError:
        raise FieldInvalid("too many pixels to decode", field=field) from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError):
        raise FieldInvalid("truncated or corrupt image data", field=field) from None


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def _png_verified(data: bytes, width: int, height: int) -> bytes | None:
    """A complete check of a plain PNG without Pillow's pixel decode; its eXIf payload (b"" when
    none) when the file passed, None to leave the verdict to Pillow's full decode.

    Passing takes what a decode would find wrong: every chunk present whole with a correct
    CRC, IHDR first and IEND last, one complete zlib stream across the IDAT chunks that
    inflates to exactly the size the header implies, and a valid filter type on every row.
    Unfiltering the rows (what Pillow adds) cannot fail on such a file, and costs several
    times the rest for small images. Interlaced files and anything unusual go to Pillow.
    """
    if data[:8] != _PNG_SIGNATURE:
        return None
    try:
        chunks = _png_chunks(data, width, height)
        if chunks is None:
            return None
        bits_per_pixel, idat, exif = chunks
        if not _png_rows_valid(b"".join(idat), width, height, bits_per_pixel):
            return None
    except (struct.error, zlib.error, ValueError):
        return None
    return exif


def _png_chunks(data: bytes, width: int, height: int) -> tuple[int, list[bytes], bytes] | None:
    """Walk the chunks after the signature: (bits per pixel, IDAT bodies, eXIf body), or None
    when a chunk is cut short, fails its CRC, is out of order, or IHDR is unusual."""
    pos, size, first, idat, exif = 8, len(data), True, [], b""
    bits_per_pixel = 0
    while pos + 12 <= size:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        if end + 4 > size or zlib.crc32(data[pos + 4 : end]) != int.from_bytes(data[end : end + 4], "big"):
            return None
        body = data[pos + 8 : end]
        if first != (kind == b"IHDR"):
            return None
        if first:
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (w, h) != (width, height) or interlace or colour not in _PNG_CHANNELS:
                return None
            bits_per_pixel = _PNG_CHANNELS[colour] * depth
            first = False
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"eXIf":
            exif = body
        elif kind == b"IEND":  # bytes after IEND are ignored, as decoders do
            return (bits_per_pixel, idat, exif) if idat else None
        pos = end + 4
    return None  # no IEND


_INFLATE_STEP = 4 * 1024 * 1024  # bytes of pixel data inflated at a time: the check's memory


def _png_rows_valid(stream: bytes, width: int, height: int, bits_per_pixel: int) -> bool:
    """One complete zlib stream inflating to exactly the header's size, each row's filter 0-4.

    Inflated a few MB at a time and dropped as it goes, so checking a 64-megapixel PNG costs
    a few MB, not the 200 MB its pixels would take."""
    row = 1 + (width * bits_per_pixel + 7) // 8
    expected = row * height
    step = max(row, _INFLATE_STEP // row * row)  # whole rows per step
    inflater = zlib.decompressobj()
    seen, pending, data = 0, b"", stream
    while True:
        chunk = inflater.decompress(data, step)
        data = inflater.unconsumed_tail
        if not chunk:  # input used up (or the stream ended)
            break
        block = pending + chunk
        whole = len(block) // row * row
        if whole and int(np.frombuffer(block, np.uint8, whole)[::row].max()) > 4:
            return False
        pending = block[whole:]
        seen += len(chunk)
        if seen > expected:
            return False
    return seen == expected and not pending and inflater.eof


def _exif_orientation(exif: bytes) -> int:
    if not exif:
        return 1
    try:
        info = Image.Exif()
        info.load(exif)
        return int(info.get(_ORIENTATION, 1))
    except Exception:  # a broken EXIF block only loses the rotation, as in viewers
        return 1


def _bomb(field: str, settings: Settings) -> FieldInvalid:
    return FieldInvalid(
        f"too many pixels (limit {settings.max_image_pixels}); refusing a possible decompression bomb",
        field=field,
    )


_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"8BPS", "PSD"),
    (0, b"%PDF", "PDF"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"qoif", "QOI"),
)
_FTYP_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"hevc": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF",
                b"avif": "AVIF", b"avis": "AVIF"}


def _has_image_magic(data: bytes) -> bool:
    accepted = data[:3] == b"\xff\xd8\xff" or data[:8] == _PNG_SIGNATURE or (
        data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    )
    return accepted or sniff_format(data) is not None


def sniff_format(data: bytes) -> str | None:
    """Name a common non-accepted image format from its magic bytes, for a helpful refusal."""
    for offset, magic, name in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(data[8:12])
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    return None
