"""Input images: references (URL, data URI, bare base64) and validation, every refusal naming its field."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import time

import numpy as np
import pytest
from PIL import Image

from stillmotion.errors import FieldInvalid, ImageDownloadFailure, PayloadTooLarge
from stillmotion.media.inputs import ImageData, decode_data_uri, load_image, validate_image_bytes
from stillmotion.settings import Settings

from .conftest import LoopbackServer, data_uri, encode, image_bytes, png_header_only, smooth_image

FIELD = "images[0]"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(allow_private_urls=True, data_dir=tmp_path, download_timeout_s=1)


def load(ref: str, settings: Settings) -> ImageData:
    return asyncio.run(load_image(ref, field=FIELD, settings=settings))


def refused(exc_info: pytest.ExceptionInfo, *, status: int = 400) -> str:
    err = exc_info.value
    assert err.field == FIELD and str(err).startswith(f"{FIELD}: ")
    assert err.status == status
    return str(err)


# --- references ---


def test_data_uri(settings: Settings) -> None:
    data = image_bytes(320, 240)
    img = load(data_uri(data), settings)
    assert (img.format, img.ext, img.width, img.height) == ("png", "png", 320, 240)
    assert img.data == data and img.sha256 == hashlib.sha256(data).hexdigest()


def test_bare_base64_jpeg(settings: Settings) -> None:
    data = image_bytes(300, 200, "JPEG")
    img = load(base64.b64encode(data).decode(), settings)
    assert (img.format, img.ext, img.width, img.height) == ("jpeg", "jpg", 300, 200)


def test_data_uri_tolerates_whitespace_missing_padding_and_urlsafe(settings: Settings) -> None:
    data = image_bytes(200, 200, "WEBP")
    text = base64.urlsafe_b64encode(data).decode().rstrip("=")
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    img = load(f"  data:image/webp;base64,{wrapped}\n", settings)
    assert (img.format, img.ext) == ("webp", "webp") and img.data == data


def test_url(server: LoopbackServer, settings: Settings) -> None:
    data = image_bytes(256, 192, "JPEG")
    server.body("/photo.jpg", data, content_type="image/jpeg")
    img = load(server.url("/photo.jpg"), settings)
    assert (img.format, img.width, img.height) == ("jpeg", 256, 192) and img.data == data


def test_url_404_names_field_and_status(server: LoopbackServer, settings: Settings) -> None:
    with pytest.raises(ImageDownloadFailure) as err:
        load(server.url("/nope.png"), settings)
    assert refused(err) == f"{FIELD}: download failed: HTTP 404"


def test_private_url_refused_by_default(tmp_path) -> None:
    with pytest.raises(ImageDownloadFailure) as err:
        load("http://169.254.169.254/latest/meta-data/", Settings(data_dir=tmp_path))
    assert "non-public address" in refused(err)


@pytest.mark.parametrize(
    "ref, says",
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("ftp://example.com/a.png", "unsupported URL scheme 'ftp'"),
        ("file:///etc/passwd", "unsupported URL scheme 'file'"),
        ("/etc/passwd", "not an http(s) URL, a data URI or base64 image data"),
        ("photo.png", "not an http(s) URL, a data URI or base64 image data"),
        ("data:image/png;base64,!!!notbase64!!!", "invalid base64"),
        ("data:image/png,rawbytes", "must be base64-encoded"),
        ("data:text/html;base64,PGgxPg==", "must hold an image, not text/html"),
        ("data:image/png;base64", "malformed data URI"),
        ("data:image/png;base64,", "image data is empty"),
    ],
)
def test_bad_references(ref: str, says: str, settings: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        load(ref, settings)
    assert says in refused(err)


def test_non_string_reference(settings: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        load(123, settings)  # type: ignore[arg-type]
    assert "must be a string" in refused(err)


def test_oversize_data_uri_refused_before_decoding(monkeypatch) -> None:
    payload = "A" * (4 * 1000 + 4)  # decodes to 3003 bytes
    decoded: list[str] = []
    real = base64.b64decode
    monkeypatch.setattr(base64, "b64decode", lambda *a, **k: decoded.append("x") or real(*a, **k))
    with pytest.raises(PayloadTooLarge) as err:
        decode_data_uri("data:image/png;base64," + payload, field=FIELD, max_bytes=3000)
    assert refused(err, status=413) == f"{FIELD}: larger than the 3000 bytes limit"
    with pytest.raises(PayloadTooLarge):
        decode_data_uri(payload, field=FIELD, max_bytes=3000)
    assert decoded == []
    assert len(decode_data_uri(payload, field=FIELD, max_bytes=3003)) == 3003
    wrapped = "\n".join(payload[i : i + 76] for i in range(0, len(payload), 76))
    assert len(decode_data_uri(wrapped, field=FIELD, max_bytes=3003)) == 3003  # breaks are not data


def test_oversize_data_uri_through_load_image(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, max_image_bytes=50_000)
    big = encode(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8))
    assert len(big) > 50_000
    with pytest.raises(PayloadTooLarge) as err:
        load(data_uri(big), settings)
    assert "50000 bytes" in refused(err, status=413)


def test_50mb_limit_is_the_default() -> None:
    payload = "A" * (70 * 1024 * 1024)  # ~52.5 MB decoded
    start = time.perf_counter()
    with pytest.raises(PayloadTooLarge, match="larger than the 50 MB limit"):
        decode_data_uri("data:image/png;base64," + payload, field=FIELD, max_bytes=Settings().max_image_bytes)
    assert time.perf_counter() - start < 1.0  # a few scans of 70 MB, no decoding


def test_oversize_url_body(server: LoopbackServer, tmp_path) -> None:
    settings = Settings(allow_private_urls=True, data_dir=tmp_path, max_image_bytes=10_000)
    server.body("/huge.png", b"\0" * 50_000, length=False)
    with pytest.raises(PayloadTooLarge) as err:
        load(server.url("/huge.png"), settings)
    refused(err, status=413)


# --- validation ---


def validate(data: bytes, settings: Settings) -> ImageData:
    return validate_image_bytes(data, field=FIELD, settings=settings)


def test_not_an_image(settings: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        validate(b"<html>hello</html>" * 10, settings)
    assert refused(err) == f"{FIELD}: not an image (expected jpg, png or webp)"


@pytest.mark.parametrize("fmt, name", [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_unsupported_format_named(fmt: str, name: str, settings: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        validate(image_bytes(200, 200, fmt), settings)
    assert refused(err) == f"{FIELD}: unsupported format {name}; use jpg, png or webp"


def test_gif_data_uri_named(settings: Settings) -> None:
    with pytest.raises(FieldInvalid, match="unsupported format GIF"):
        load(data_uri(image_bytes(200, 200, "GIF"), "image/gif"), settings)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated(fmt: str, settings: Settings) -> None:
    rng = np.random.default_rng(2)
    data = encode(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8), fmt)
    with pytest.raises(FieldInvalid) as err:
        validate(data[: len(data) // 2], settings)
    assert refused(err) == f"{FIELD}: truncated or corrupt image data"


def test_decompression_bomb_header_refused_fast(settings: Settings) -> None:
    bomb = png_header_only(100_000, 100_000)
    assert len(bomb) < 200
    start = time.perf_counter()
    with pytest.raises(FieldInvalid) as err:
        validate(bomb, settings)
    assert time.perf_counter() - start < 0.5
    assert "decompression bomb" in refused(err)


def test_pixel_limit_below_pillows_own(settings: Settings) -> None:
    # 72 MP: under Pillow's bomb threshold, over ours: refused by our check, before decoding.
    start = time.perf_counter()
    with pytest.raises(FieldInvalid) as err:
        validate(png_header_only(9000, 8000), settings)
    assert time.perf_counter() - start < 0.5
    assert refused(err) == f"{FIELD}: 9000x8000 is 72000000 pixels, over the limit of 64000000"


def test_too_small(settings: Settings) -> None:
    with pytest.raises(FieldInvalid) as err:
        validate(image_bytes(100, 200), settings)
    assert refused(err) == f"{FIELD}: 100x200 is too small; each side must be at least 128 px"


def test_min_side_is_inclusive(settings: Settings) -> None:
    assert validate(image_bytes(128, 128), settings).width == 128


def test_aspect_ratio(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    tall = np.zeros((4000, 1000, 3), np.uint8)
    assert validate(encode(tall), settings).height == 4000  # exactly 1:4 accepted
    with pytest.raises(FieldInvalid) as err:
        validate(encode(np.zeros((4100, 1000, 3), np.uint8)), settings)
    assert refused(err) == f"{FIELD}: aspect ratio of 1000x4100 is outside 1:4 to 4:1"
    with pytest.raises(FieldInvalid, match="outside 1:4 to 4:1"):
        validate(encode(np.zeros((128, 513, 3), np.uint8)), settings)


def test_exif_orientation_swaps_size(settings: Settings) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 400x200, shown 200x400
    buf = io.BytesIO()
    Image.fromarray(smooth_image(400, 200)).save(buf, "JPEG", exif=exif)
    img = validate(buf.getvalue(), settings)
    assert (img.width, img.height) == (200, 400)


def test_modes_accepted(settings: Settings) -> None:
    for mode in ("L", "LA", "P", "RGBA", "I;16"):
        im = Image.fromarray(smooth_image(200, 150)).convert(mode if mode != "I;16" else "I").convert(mode) \
            if mode != "I;16" else Image.new("I;16", (200, 150))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        assert validate(buf.getvalue(), settings).width == 200
    cmyk = io.BytesIO()
    Image.fromarray(smooth_image(200, 150)).convert("CMYK").save(cmyk, "JPEG")
    assert validate(cmyk.getvalue(), settings).format == "jpeg"


def test_validation_is_fast(settings: Settings) -> None:
    data = image_bytes(256, 256)
    validate(data, settings)  # warm up Pillow's plugins
    runs = 50
    start = time.perf_counter()
    for _ in range(runs):
        validate(data, settings)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.005, f"{per_call * 1000:.2f} ms per 256x256 PNG"


def test_multi_picture_jpeg_is_a_jpeg(settings: Settings) -> None:
    """Phones write MPO (several JPEGs in one file); Pillow names it MPO, everyone else JPEG."""
    buf = io.BytesIO()
    first, second = (Image.fromarray(smooth_image(300, 200)) for _ in range(2))
    first.save(buf, "MPO", save_all=True, append_images=[second])
    img = validate(buf.getvalue(), settings)
    assert (img.format, img.ext, img.width, img.height) == ("jpeg", "jpg", 300, 200)
