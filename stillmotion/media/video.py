"""MP4 output: H.264 High yuv420p at an exact frame rate, faststart, tagged; plus the cover JPEG.

Frames stream through the encoder one at a time, so a clip never sits in memory whole. Colour
is converted from (sRGB) RGB with BT.709 coefficients and tagged BT.709 in the stream, so
players and our own decoder agree on what the numbers mean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np
from av.video.reformatter import ColorRange
from PIL import Image

AUDIO_RATE = 48_000

# mode -> libx264 preset and CRF. 8x8dct keeps ultrafast in the High profile (x264 would
# otherwise signal Constrained Baseline, as ultrafast turns off every High-only tool). pro runs
# superfast at CRF 19 rather than veryfast at CRF 18: on engine clips (1080p city scene, 48 frames)
# it took 2.25 s of encoder CPU instead of 4.41 s for +0.42 dB PSNR and 1.37x the bytes (at 720p:
# half the CPU, same PSNR at CRF 20); the encoder was half of a 1080p pro clip's CPU. None of
# these presets runs x264's macroblock-tree pass, which made the bundled encoder nondeterministic
# (the same frames encoded twice in one process gave different bitstreams: "same seed, same video"
# failed with veryfast until mbtree=0). pro and pro-fast entropy-code with CAVLC (cabac=0): the
# same pictures (identical PSNR) for 0.80-0.83x the encoder CPU and 1.13-1.21x the bytes; and
# they place B-frames by a fixed pattern without weighted P prediction (b-adapt=0, weightp=0):
# 0.76-0.82x the encoder CPU again, 0.83-0.93x the bytes, 0.06-0.19 dB lower PSNR at 44-47 dB
# (benchmarks/encoders.py, one x264 thread as beside the engine on 2 cores).
_FAST_ANALYSIS = "cabac=0:b-adapt=0:weightp=0"
_MODES: dict[str, dict[str, str]] = {
    "pro": {"preset": "superfast", "crf": "19", "x264-params": _FAST_ANALYSIS},
    "pro-fast": {"preset": "superfast", "crf": "20", "x264-params": _FAST_ANALYSIS},
    "turbo": {"preset": "ultrafast", "crf": "23", "x264-params": "8x8dct=1"},
}

# Keys the MP4 muxer writes as ordinary iTunes-style tags; any other key needs
# `use_metadata_tags` (QuickTime mdta keys), which is switched on only then.
_STANDARD_TAGS = {
    "title", "artist", "album_artist", "composer", "album", "date", "comment", "genre",
    "copyright", "grouping", "lyrics", "description", "synopsis", "show", "episode_id",
    "network", "keywords",
}

_BT709 = 1  # AVCOL_PRI_BT709 == AVCOL_TRC_BT709 == AVCOL_SPC_BT709


def _bt709_matrix() -> np.ndarray:
    """3x4 affine map from full-range RGB to limited-range BT.709 (Y, Cb, Cr), for cv2.transform."""
    kr, kb = 0.2126, 0.0722
    kg = 1.0 - kr - kb
    y = np.array([kr, kg, kb])
    cb = (np.array([0.0, 0.0, 1.0]) - y) / (2 * (1 - kb))
    cr = (np.array([1.0, 0.0, 0.0]) - y) / (2 * (1 - kr))
    m = np.empty((3, 4), np.float32)
    m[:, :3] = np.stack([y * 219, cb * 224, cr * 224]) / 255
    m[:, 3] = (16, 128, 128)
    return m


RGB_TO_YCBCR709 = _bt709_matrix()


def rgb_to_i420(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8 sRGB, H and W even -> I420 bytes ((H * 3 / 2, W): Y, then Cb and Cr at half size),
    limited-range BT.709, each chroma sample from the mean of its 2x2 block.

    Three OpenCV passes (Y at full size, a 2x2 area reduction, Cb/Cr at half size) take ~1.7 ms
    for a 720p frame on one core where swscale's rgb24 -> yuv420p took 4-6 ms: a tenth of a
    turbo clip's CPU. Matches swscale within one level in Y (tests/media)."""
    h, w = frame.shape[:2]
    if out is None:
        out = np.empty((h * 3 // 2, w), np.uint8)
    _convert(frame, *_i420_planes(out, h, w))
    return out


def _i420_planes(buf: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of Y (h, w), Cb and Cr (h / 2, w / 2) in an (h * 3 / 2, w) I420 buffer."""
    q = (h // 2) * (w // 2)
    chroma = buf[h:].reshape(-1)
    return buf[:h], chroma[:q].reshape(h // 2, w // 2), chroma[q:].reshape(h // 2, w // 2)


def rgb_to_yuv_frame(frame: np.ndarray) -> av.VideoFrame:
    """`rgb_to_i420` written straight into a new yuv420p encoder frame, for `VideoWriter.write_frame`.

    No array in between: handing planes to the encoder copied them into a frame first
    (`from_ndarray`, 0.4-1.3 ms a 720p frame on the encoding thread); in render_clip's pipeline
    the direct frame gave the same bitstream, a 5 s 720p turbo clip in 1.46 s against 1.53 s
    (medians of 6 alternated runs).
    Planes whose rows the frame pads (widths off FFmpeg's alignment) are converted apart and copied in."""
    h, w = frame.shape[:2]
    out = av.VideoFrame(w, h, "yuv420p")
    views = [np.frombuffer(plane, np.uint8).reshape(ph, plane.line_size)[:, :pw]
             for plane, (ph, pw) in zip(out.planes, ((h, w), (h // 2, w // 2), (h // 2, w // 2)))]
    if all(v.flags.c_contiguous for v in views):
        _convert(frame, *views)
    else:
        for view, plane in zip(views, _i420_planes(rgb_to_i420(frame), h, w)):
            np.copyto(view, plane)
    return out


def _convert(frame: np.ndarray, y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> None:
    """Fill the contiguous planes `y` (H, W), `cb` and `cr` (H / 2, W / 2) from RGB `frame`."""
    h, w = frame.shape[:2]
    cv2.extractChannel(cv2.transform(frame, RGB_TO_YCBCR709), 0, dst=y)
    half = cv2.transform(cv2.resize(frame, (w // 2, h // 2), interpolation=cv2.INTER_AREA), RGB_TO_YCBCR709)
    cv2.extractChannel(half, 1, dst=cb)
    cv2.extractChannel(half, 2, dst=cr)


class VideoWriter:
    """Stream RGB frames into an MP4 file; use as a context manager.

    `frames_written` counts frames accepted by `write`; after `close` the file holds exactly
    that many (the encoder is drained, nothing is dropped or duplicated).
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: int = 24,
        *,
        mode: str = "pro",
        metadata: dict[str, str] | None = None,
        threads: int = 0,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"frame size must be positive and even for yuv420p, got {width}x{height}")
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, int(fps)
        self.frames_written = 0
        self._closed = False
        tags = {str(k): str(v) for k, v in (metadata or {}).items()}
        flags = "+faststart" + ("+use_metadata_tags" if set(tags) - _STANDARD_TAGS else "")
        # A movie timescale divisible by the frame rate keeps the edit list (and so the duration
        # players show) exact; the default 1000 rounds 29 frames at 24 fps to 1.208 s.
        options = {"movflags": flags, "movie_timescale": str(self.fps * 1000)}
        self._container = av.open(str(self.path), "w", format="mp4", options=options)
        try:
            self._container.metadata.update(tags)
            stream = self._container.add_stream("libx264", rate=Fraction(self.fps))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = Fraction(1, self.fps)
            stream.options = {**_MODES[mode], "profile": "high"}
            ctx = stream.codec_context
            ctx.thread_count = threads
            ctx.color_primaries = ctx.color_trc = ctx.colorspace = _BT709
            ctx.color_range = int(ColorRange.MPEG)
        except BaseException:
            self._container.close()
            raise
        self._video = stream
        self._audio: av.audio.stream.AudioStream | None = None
        self._samples: np.ndarray | None = None  # (2, n) float32 at 48 kHz
        self._audio_pos = 0

    def add_audio(self, samples: np.ndarray, sample_rate: int) -> None:
        """Add an AAC 48 kHz stereo track; call once, before the first `write`.

        `samples` is (n,) mono or (n, channels) with 1 or 2 channels, float in [-1, 1] or int16.
        It is resampled to 48 kHz, then trimmed or padded with silence at `close` so the track
        lasts exactly as long as the video.
        """
        if self._audio is not None:
            raise RuntimeError("the audio track was already added")
        if self.frames_written:
            raise RuntimeError("add_audio must be called before the first frame is written")
        self._samples = _to_stereo_48k(samples, sample_rate)
        stream = self._container.add_stream("aac", rate=AUDIO_RATE)
        stream.layout = "stereo"
        stream.format = "fltp"
        stream.time_base = Fraction(1, AUDIO_RATE)
        stream.bit_rate = 192_000
        self._audio = stream

    def write(self, frame: np.ndarray) -> None:
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        expected = (self.height, self.width, 3)
        if not isinstance(frame, np.ndarray) or frame.shape != expected or frame.dtype != np.uint8:
            got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ValueError(f"frame must be a {expected} uint8 RGB array, got {got}")
        self.write_frame(rgb_to_yuv_frame(frame))

    def write_i420(self, planes: np.ndarray) -> None:
        """Write one frame already converted by `rgb_to_i420` (copied into an encoder frame;
        `write_frame` with `rgb_to_yuv_frame` skips the copy)."""
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        expected = (self.height * 3 // 2, self.width)
        if not isinstance(planes, np.ndarray) or planes.shape != expected or planes.dtype != np.uint8:
            got = f"{planes.shape} {planes.dtype}" if isinstance(planes, np.ndarray) else type(planes).__name__
            raise ValueError(f"I420 planes must be a {expected} uint8 array, got {got}")
        self.write_frame(av.VideoFrame.from_ndarray(planes, format="yuv420p"))

    def write_frame(self, frame: av.VideoFrame) -> None:
        """Write one yuv420p frame of the stream's size as it is (a filter graph's output, say:
        no copy into an array and back). Its pts is replaced: the writer numbers frames itself."""
        if self._closed:
            raise RuntimeError("VideoWriter is closed")
        if frame.format.name != "yuv420p" or (frame.width, frame.height) != (self.width, self.height):
            raise ValueError(f"frame must be yuv420p {self.width}x{self.height}, got {frame.format.name} "
                             f"{frame.width}x{frame.height}")
        frame.pts = self.frames_written
        self._mux(self._video.encode(frame))
        self.frames_written += 1
        if self._audio is not None:
            self._write_audio_until(self.frames_written * AUDIO_RATE // self.fps)

    def close(self) -> None:
        """Drain the encoders and finalise the file (moov moved to the front)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._write_audio_until(self.frames_written * AUDIO_RATE // self.fps)
                self._mux(self._audio.encode(None))
        finally:
            self._container.close()

    def _abort(self) -> None:
        self._closed = True
        try:
            self._container.close()
        except Exception:  # the file is being discarded; the original error matters
            pass

    def _mux(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            self._container.mux(packet)

    def _write_audio_until(self, end: int) -> None:
        """Encode the track up to sample `end`, interleaved with the video written so far."""
        assert self._audio is not None and self._samples is not None
        chunk = 1024
        while self._audio_pos < end:
            n = min(chunk, end - self._audio_pos)
            block = self._samples[:, self._audio_pos : self._audio_pos + n]
            if block.shape[1] < n:  # the track is shorter than the video: silence
                block = np.pad(block, ((0, 0), (0, n - block.shape[1])))
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            frame.sample_rate = AUDIO_RATE
            frame.pts = self._audio_pos
            frame.time_base = Fraction(1, AUDIO_RATE)
            self._mux(self._audio.encode(frame))
            self._audio_pos += n

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def _to_stereo_48k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    arr = np.asarray(samples)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] not in (1, 2) or sample_rate <= 0:
        raise ValueError(f"audio must be (n,) or (n, 1|2) samples at a positive rate, got {arr.shape}")
    if arr.dtype == np.int16:
        arr = arr.astype(np.float32) / 32768.0
    arr = np.clip(arr.astype(np.float32, copy=False), -1.0, 1.0)
    if arr.shape[1] == 1:
        arr = np.repeat(arr, 2, axis=1)
    planar = np.ascontiguousarray(arr.T)  # (2, n)
    if sample_rate == AUDIO_RATE or planar.shape[1] == 0:
        return planar
    frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
    frame.sample_rate = sample_rate
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    out = [f.to_ndarray() for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out, axis=1) if out else np.zeros((2, 0), np.float32)


def write_cover(frame: np.ndarray, path: str | Path, quality: int = 90) -> None:
    """Save `frame` ((H, W, 3) uint8 RGB) as a JPEG, atomically (readers never see half a file)."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError("cover frame must be an (H, W, 3) uint8 RGB array")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(frame, "RGB").save(tmp, format="JPEG", quality=quality, optimize=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    profile: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int  # counted by decoding every frame
    duration: float  # of the video stream, seconds
    has_audio: bool
    faststart: bool  # the 'moov' atom precedes 'mdat'
    metadata: dict[str, str] = field(default_factory=dict)
    audio_duration: float | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None


def probe(path: str | Path) -> VideoInfo:
    """Describe an MP4 file; exact, not estimated (it decodes every video frame)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        frames = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = frames / fps if fps else 0.0
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_duration = None
        if audio is not None and audio.duration is not None and audio.time_base is not None:
            audio_duration = float(audio.duration * audio.time_base)
        return VideoInfo(
            codec=ctx.name,
            profile=ctx.profile or "",
            pix_fmt=ctx.pix_fmt or "",
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            frames=frames,
            duration=duration,
            has_audio=audio is not None,
            faststart=_moov_before_mdat(Path(path)),
            metadata=dict(container.metadata),
            audio_duration=audio_duration,
            audio_rate=audio.codec_context.sample_rate if audio is not None else None,
            audio_channels=audio.codec_context.channels if audio is not None else None,
        )


def read_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decode every video frame as (H, W, 3) uint8 RGB (for tests and quality metrics)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def top_level_atoms(path: Path) -> list[str]:
    """The types of an MP4 file's top-level boxes, in file order."""
    atoms: list[str] = []
    size_total = path.stat().st_size
    with path.open("rb") as f:
        pos = 0
        while pos + 8 <= size_total:
            f.seek(pos)
            header = f.read(16)
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8].decode("latin-1")
            if size == 1:  # 64-bit size follows the type
                size = int.from_bytes(header[8:16], "big")
            elif size == 0:  # extends to the end of the file
                size = size_total - pos
            atoms.append(kind)
            if size < 8:
                break  # corrupt; stop rather than loop
            pos += size
    return atoms


def _moov_before_mdat(path: Path) -> bool:
    atoms = top_level_atoms(path)
    return "moov" in atoms and "mdat" in atoms and atoms.index("moov") < atoms.index("mdat")
