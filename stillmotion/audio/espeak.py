"""A minimal ctypes binding to the espeak-ng library that the `espeakng-loader` wheel ships.

espeak-ng keeps global state (one voice, one set of parameters, one callback), so every
synthesis holds a process-wide lock; it is fast (far above real time), so workers rarely wait.
Audio comes back through the synchronous callback as 16-bit mono at the library's rate (22050).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

from stillmotion.errors import GenerationFailed

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
# espeak_PARAMETER
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
MIN_WPM, MAX_WPM = 80, 450

_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True)
class Utterance:
    samples: np.ndarray  # (n,) float32 in [-1, 1]
    rate: int


class _Espeak:
    """The loaded library; created once, on first use."""

    def __init__(self) -> None:
        import espeakng_loader  # the wheel with the library and its voice data

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_SetSynthCallback.argtypes = [_Callback]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0)
        if rate <= 0:
            raise GenerationFailed(f"espeak-ng failed to initialise (code {rate})")
        self.lib = lib
        self.rate = rate
        self._chunks: list[np.ndarray] = []
        self._callback = _Callback(self._collect)  # kept referenced: the library holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.Array, count: int, events: int) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0  # 0 = continue

    def speak(self, text: str, voice: str, *, wpm: int, pitch: int, pitch_range: int, volume: int) -> Utterance:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise GenerationFailed(f"espeak-ng has no voice {voice!r}")
        for param, value in ((_RATE, min(MAX_WPM, max(MIN_WPM, wpm))), (_PITCH, pitch),
                             (_RANGE, pitch_range), (_VOLUME, volume)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        data = text.encode("utf-8")
        self._chunks = []
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise GenerationFailed(f"espeak-ng could not speak the text (code {err})")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = []
        return Utterance(pcm.astype(np.float32) / 32768.0, self.rate)


_lock = threading.Lock()
_engine: _Espeak | None = None


def speak(text: str, voice: str, *, wpm: int, pitch: int = 50, pitch_range: int = 50,
          volume: int = 100) -> Utterance:
    """Speak `text` with espeak-ng voice `voice` (e.g. "en-us+f3"); thread-safe."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = _Espeak()
        return _engine.speak(text, voice, wpm=wpm, pitch=pitch, pitch_range=pitch_range, volume=volume)
