"""The baseline: ffmpeg's `zoompan` filter, today's common way to animate a still on a CPU.

Driven through PyAV's filter graph (buffer -> zoompan -> format -> buffersink) with the usual
centred recipe, `x = iw/2 - iw/zoom/2`, `y = ih/2 - ih/zoom/2`. zoompan crops a rectangle
whose corner and size are whole pixels and rescales it, so a slow zoom advances in uneven
steps: the jitter the benchmark measures.

The filter runs in whatever pixel format it is given. ffmpeg hands it the decoder's: rgb24 for
a PNG, yuvj420p for a JPEG. In 4:2:0 it rescales 1.5 bytes a pixel instead of 3 and its frames
go to x264 as they are: 2.4-2.9 ms a 720p frame against 10.8-12.0 ms in rgb24, before rgb24's
conversion for the encoder (2.3 ms). The benchmark runs both (compare.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from stillmotion.media.video import rgb_to_i420

PIX_FMTS = ("rgb24", "yuv420p")


def zoompan_video(
    image: np.ndarray, num_frames: int, zoom_end: float, fps: int = 24, pix_fmt: str = "rgb24",
) -> Iterator[av.VideoFrame]:
    """`num_frames` frames in `pix_fmt` zooming linearly from 1 to `zoom_end` into the centre of `image`.

    `image` is RGB, already the output size (fitted as the engine fits it), so frame 0 is the
    image itself and both renderers start from the same pixels; for yuv420p it is converted
    first, as render_clip converts the engine's frames (BT.709, limited range). The zoom is
    written with the output frame number (`1 + step * on`) rather than the popular `zoom + step`,
    which would start one step in.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"pix_fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")
    h, w = image.shape[:2]
    step = (zoom_end - 1.0) / max(1, num_frames - 1)
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format=pix_fmt, time_base=Fraction(1, fps))
    zoom = graph.add(
        "zoompan", z=f"1+{step:.10f}*on", x="iw/2-(iw/zoom/2)", y="ih/2-(ih/zoom/2)",
        d=str(num_frames), s=f"{w}x{h}", fps=str(fps),
    )
    fmt = graph.add("format", pix_fmts=pix_fmt)
    sink = graph.add("buffersink")
    src.link_to(zoom)
    zoom.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    pixels = np.ascontiguousarray(image) if pix_fmt == "rgb24" else rgb_to_i420(np.ascontiguousarray(image))
    frame = av.VideoFrame.from_ndarray(pixels, format=pix_fmt)
    frame.pts, frame.time_base = 0, Fraction(1, fps)
    graph.push(frame)
    yield from _drain(graph, num_frames)


def zoompan_frames(image: np.ndarray, num_frames: int, zoom_end: float, fps: int = 24) -> Iterator[np.ndarray]:
    """The rgb24 filter's frames as (H, W, 3) uint8 arrays (see `zoompan_video`)."""
    for frame in zoompan_video(image, num_frames, zoom_end, fps):
        yield frame.to_ndarray(format="rgb24")


def _drain(graph: av.filter.Graph, num_frames: int) -> Iterator[av.VideoFrame]:
    """Pull every frame; flush the graph once it wants input we no longer have."""
    made, flushed = 0, False
    while made < num_frames:
        try:
            out = graph.pull()
        except av.BlockingIOError:
            if flushed:
                break
            graph.push(None)
            flushed = True
            continue
        except EOFError:
            break
        made += 1
        yield out
    if made != num_frames:
        raise RuntimeError(f"zoompan produced {made} frames, expected {num_frames}")
