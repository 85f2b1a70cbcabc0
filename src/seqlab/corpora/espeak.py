"""A small ctypes binding to eSpeak NG, for synthesising the built-in speech corpus offline.

Ours because the Python wrappers on PyPI either shell out to an ``espeak-ng`` binary (not
installed here) or only return phonemes; the ``espeakng-loader`` wheel ships the shared library and
its data, and five C calls are all we need. The library runs in synchronous mode:
``espeak_Synth`` returns when the whole text is synthesised, having handed the samples to our
callback; no thread is started, so it is safe in forked and spawned workers.

eSpeak NG keeps state from one utterance to the next (the phase of its pitch "flutter", the gain
of its overflow limiter, the breath-noise random generator), so the same text does not give the
same samples twice. ``synthesize`` therefore unloads and reloads the library before every call
(about 3 ms, against ~750x real time for the synthesis itself) and reseeds its noise generator,
which ``espeak_Initialize`` seeds from the clock: one utterance's samples depend only on its
arguments.
"""

from __future__ import annotations

import _ctypes
import ctypes
import os
import threading
from pathlib import Path

import numpy as np

ESPEAK_SAMPLE_RATE = 22050  # Hz; what eSpeak NG's formant synthesiser produces

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
# espeak_PARAMETER values (speak_lib.h)
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_BUFFER_MS = 500  # callback granularity; larger buffers mean fewer Python calls

# int (*t_espeak_callback)(short *wav, int numsamples, espeak_EVENT *events)
_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _EspeakVoice(ctypes.Structure):
    """``espeak_VOICE`` from speak_lib.h."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded or refused a request."""


def _declare(lib: ctypes.CDLL) -> None:
    """Argument and result types of the C functions we call (speak_lib.h)."""
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_Terminate.argtypes = []
    lib.espeak_Terminate.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lib.espeak_SetParameter.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint),
        ctypes.c_void_p,
    ]
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    lib.espeak_ng_SetRandSeed.restype = None
    lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))


class _Engine:
    """The process's eSpeak NG: library path, data path, loaded library and sample collector."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as err:
            raise EspeakError(
                "the 'espeakng-loader' package is not installed; it ships libespeak-ng and its "
                "data. Install it with `pip install espeakng-loader` (it is a seqlab dependency)."
            ) from err
        self.lib_path = espeakng_loader.get_library_path()
        try:
            self.data_path = espeakng_loader.get_data_path()
        except RuntimeError as err:
            raise EspeakError(f"espeakng-loader has no espeak-ng-data directory: {err}") from err
        self.chunks: list[np.ndarray] = []
        self.callback = _SynthCallback(self._collect)  # kept alive: the library holds the pointer
        self.lock = threading.Lock()  # the library has one global state
        self.lib: ctypes.CDLL | None = None
        self.reload()

    def reload(self) -> None:
        """Unload the library (if loaded) and load and initialise a fresh copy of its state."""
        if self.lib is not None:
            self.lib.espeak_Terminate()
            handle = self.lib._handle
            self.lib = None
            _ctypes.dlclose(handle)  # the last reference: static data is reset on the next load
        try:
            lib = ctypes.CDLL(self.lib_path)
        except OSError as err:
            raise EspeakError(
                f"cannot load libespeak-ng from {self.lib_path}: {err}. Reinstall espeakng-loader "
                "for this platform (`pip install --force-reinstall espeakng-loader`)."
            ) from err
        _declare(lib)
        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, self.data_path.encode(), 0
        )
        if rate != ESPEAK_SAMPLE_RATE:
            raise EspeakError(
                f"espeak_Initialize({self.data_path}) returned {rate}, expected a sample rate of "
                f"{ESPEAK_SAMPLE_RATE} Hz; the espeak-ng-data directory may be incomplete."
            )
        lib.espeak_SetSynthCallback(self.callback)
        self.lib = lib

    def _collect(self, wav, num_samples, _events) -> int:
        if num_samples > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0  # 0 = carry on synthesising


_ENGINE: _Engine | None = None
_INIT_LOCK = threading.Lock()  # one engine per process, even when threads ask for it at once


def _engine() -> _Engine:
    """The process's engine, created on first use by whichever thread asks first."""
    global _ENGINE
    with _INIT_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE


def _after_fork_in_child() -> None:
    """A forked child has one thread: locks held by the parent's other threads at fork time would
    stay held forever, so the child starts with fresh ones (its copy of the library is its own)."""
    global _INIT_LOCK
    _INIT_LOCK = threading.Lock()
    if _ENGINE is not None:
        _ENGINE.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def data_path() -> Path:
    """The ``espeak-ng-data`` directory used by the library."""
    return Path(_engine().data_path)


def list_voices(language: str = "en") -> list[str]:
    """Voices that speak ``language``, as names ``synthesize`` accepts.

    Args:
        language: a language code prefix, e.g. ``"en"`` (all English voices) or ``"en-gb"``.

    Returns:
        Sorted voice names, the voice files' names in lowercase: ``["en", "en-029",
        "en-gb-scotland", "en-gb-x-gbclan", ..., "en-us", "en-us-nyc"]`` (``"en"`` is British
        English). A voice is listed when its primary language tag starts with ``language``.
    """
    eng = _engine()
    with eng.lock:
        voices = eng.lib.espeak_ListVoices(None)  # NULL-terminated array of espeak_VOICE*
        names = set()
        i = 0
        while voices[i]:
            voice = voices[i].contents
            # languages starts with a priority byte then the primary tag, NUL-terminated
            primary = (voice.languages or b"")[1:].decode("ascii", "replace").lower()
            if primary == language or primary.startswith(language + "-"):
                file_name = voice.identifier.decode("ascii", "replace").rsplit("/", 1)[-1]
                names.add(file_name.lower())
            i += 1
    return sorted(names)


def list_variants() -> list[str]:
    """Voice variant names (the files under ``espeak-ng-data/voices/!v``), sorted.

    Returns:
        e.g. ``["Alex", ..., "f1", ..., "klatt", ..., "m1", ..., "whisper", ...]``; pass one as
        ``synthesize(..., variant=name)``.
    """
    folder = data_path() / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def synthesize(
    text: str,
    voice: str = "en-us",
    variant: str | None = None,
    rate: int = 160,
    pitch: int = 50,
    pitch_range: int = 50,
) -> np.ndarray:
    """Speak ``text`` with eSpeak NG.

    Deterministic: the same arguments give the same samples, in any process.

    Args:
        text: what to say (UTF-8; plain words are spoken, single letters are spelled).
        voice: a voice from ``list_voices()``, e.g. ``"en-us"`` or ``"en-gb-x-rp"``.
        variant: a name from ``list_variants()`` (``"m3"``, ``"f2"``, ``"klatt"``...) or None.
        rate: speaking rate in words per minute (eSpeak accepts 80..450).
        pitch: base pitch, 0..100 (50 is the voice's normal pitch).
        pitch_range: pitch variation, 0..100 (0 is monotone, 50 normal).

    Returns:
        ``(T,)`` float32 waveform in [-1, 1] at ``ESPEAK_SAMPLE_RATE`` (22,050 Hz).
    """
    eng = _engine()
    name = voice if variant is None else f"{voice}+{variant}"
    with eng.lock:
        eng.reload()  # fresh state: see the module docstring
        eng.lib.espeak_ng_SetRandSeed(1)  # Initialize seeds the breath noise with time(NULL)
        ok = eng.lib.espeak_SetVoiceByName(name.encode()) == _EE_OK
        if ok:
            # set after the voice: loading a voice resets the parameters
            for param, value in (
                (_RATE, rate),
                (_VOLUME, 100),
                (_PITCH, pitch),
                (_RANGE, pitch_range),
            ):
                eng.lib.espeak_SetParameter(param, int(value), 0)
            eng.chunks = []
            data = text.encode("utf-8") + b"\0"
            status = eng.lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, eng.chunks = eng.chunks, []
    if not ok:
        raise EspeakError(
            f"eSpeak NG has no voice {name!r}; choose a voice from list_voices() "
            f"({', '.join(list_voices())}) and a variant from list_variants()."
        )
    if status != _EE_OK:
        raise EspeakError(f"espeak_Synth failed with status {status} for text {text[:60]!r}")
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32) / 32768.0  # (T,)
