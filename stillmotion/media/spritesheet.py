"""A spritesheet: evenly spaced frames of a finished MP4 in one JPEG grid (OpenAI's
`variant=spritesheet`, a scrubbing preview). Built on first request from the kept MP4, so
renders pay nothing for a preview few clients ask for."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import av
from PIL import Image

from stillmotion.storage import ArtifactStore

COLUMNS = 5
ROWS = 5
TILE_WIDTH = 256


def pick(total: int, wanted: int) -> list[int]:
    """`wanted` frame indices spread evenly over `total` frames, first and last included."""
    if total <= wanted:
        return list(range(total))
    return sorted({round(i * (total - 1) / (wanted - 1)) for i in range(wanted)})


def stored_spritesheet(artifacts: ArtifactStore, video_key: str) -> str | None:
    """The key of the spritesheet of a stored MP4, built and stored beside it on first request
    (so retention and delete remove it with the video); None when the video is no longer kept."""
    prefix = video_key.rsplit("/", 1)[0]
    key = f"{prefix}/spritesheet.jpg"
    if artifacts.exists(key):
        return key
    if not artifacts.exists(video_key):
        return None
    with artifacts.local_input(video_key) as video, tempfile.TemporaryDirectory() as tmp:
        build_spritesheet(video, Path(tmp) / "spritesheet.jpg")
        artifacts.publish(Path(tmp), prefix)
    return key


def build_spritesheet(video: Path, out: Path, columns: int = COLUMNS, rows: int = ROWS,
                      tile_width: int = TILE_WIDTH) -> Path:
    """Decode `video` once, keep up to columns x rows frames, scaled to `tile_width`, row by
    row (left to right, top to bottom); written atomically to `out` as JPEG."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        total = stream.frames or sum(1 for _ in container.decode(video=0))
    keep = set(pick(total, columns * rows))
    tiles: list[Image.Image] = []
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in keep:
                image = frame.to_image()
                height = max(2, round(image.height * tile_width / image.width))
                tiles.append(image.resize((tile_width, height), Image.Resampling.BILINEAR))
    if not tiles:
        raise ValueError(f"{video}: no frames to build a spritesheet from")
    cols = min(columns, len(tiles))
    grid_rows = -(-len(tiles) // cols)
    tile_h = tiles[0].height
    sheet = Image.new("RGB", (cols * tile_width, grid_rows * tile_h))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % cols) * tile_width, (i // cols) * tile_h))
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    sheet.save(tmp, format="JPEG", quality=85)
    os.replace(tmp, out)
    return out
