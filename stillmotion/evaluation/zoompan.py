"""The baseline: ffmpeg's `zoompan` filter, today's common way to animate a still on a CPU.

Driven through PyAV's filter graph (buffer -> zoompan -> format -> buffersink) with the usual
centred recipe, `x = iw/2 - iw/zoom/2`, `y = ih/2 - ih/zoom/2`. zoompan crops a rectangle
whose corner and size are whole pixels and rescales it, so a slow zoom advances in uneven
steps: the jitter the benchmark measures.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np


def zoompan_frames(image: np.ndarray, num_frames: int, zoom_end: float, fps: int = 24) -> Iterator[np.ndarray]:
    """`num_frames` RGB frames zooming linearly from 1 to `zoom_end` into the centre of `image`.

    `image` is already the output size (fitted as the engine fits it), so frame 0 is the
    image itself and both renderers start from the same pixels. The zoom is written with the
    output frame number (`1 + step * on`) rather than the popular `zoom + step`, which would
    start one step in.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    h, w = image.shape[:2]
    step = (zoom_end - 1.0) / max(1, num_frames - 1)
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="rgb24", time_base=Fraction(1, fps))
    zoom = graph.add(
        "zoompan", z=f"1+{step:.10f}*on", x="iw/2-(iw/zoom/2)", y="ih/2-(ih/zoom/2)",
        d=str(num_frames), s=f"{w}x{h}", fps=str(fps),
    )
    fmt = graph.add("format", pix_fmts="rgb24")
    sink = graph.add("buffersink")
    src.link_to(zoom)
    zoom.link_to(fmt)
    fmt.link_to(sink)
    graph.configure()
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    frame.pts, frame.time_base = 0, Fraction(1, fps)
    graph.push(frame)
    yield from _drain(graph, num_frames)


def _drain(graph: av.filter.Graph, num_frames: int) -> Iterator[np.ndarray]:
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
        yield out.to_ndarray(format="rgb24")
    if made != num_frames:
        raise RuntimeError(f"zoompan produced {made} frames, expected {num_frames}")
