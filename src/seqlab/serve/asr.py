"""A served speech recognizer: an uploaded audio file -> transcript and n-best list, decoded as
``seqlab transcribe`` decodes (seqlab/serve/models.py holds what every kind shares)."""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from seqlab.serve.models import InputError, ServedModel, client_named


class ServedRecognizer(ServedModel):
    """A CTC recognizer: an audio file -> transcript and n-best list, decoded greedy, with beam
    search, or with beam search and the server's ``--lm``, exactly as ``seqlab transcribe``
    decodes with ``--decoder greedy``, ``--decoder beam`` or ``--lm LM`` (the same decoder configs,
    built from the same flags)."""

    kind = "asr"
    MAX_BEAM = 128
    MAX_NBEST = 20

    def __init__(self, *args, lm: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lm = lm
        self._options: dict[tuple, object] = {}
        if lm:  # load the LM now: a bad --lm stops the server at start, not at a request
            self.option("beam+lm", None, None)

    @property
    def decoders(self) -> list[str]:
        """The decoder choices: greedy, beam, and beam+lm with ``--lm``."""
        return ["greedy", "beam"] + (["beam+lm"] if self.lm else [])

    def info(self) -> dict:
        return {**super().info(), "decoders": self.decoders, "sample_rate": self.model.sample_rate}

    def key(self, decoder: str = "greedy", beam_size: int | None = None, nbest: int | None = None):
        """The batch key of a request: its checked decoder choice (an :class:`InputError` names a
        choice this model does not have)."""
        if decoder not in self.decoders:
            hint = (
                " (start the server with --lm ARPA to get beam+lm)" if decoder == "beam+lm" else ""
            )
            raise InputError(
                f"decoder {decoder!r} is not one of {', '.join(self.decoders)} for model "
                f"{self.name}{hint}"
            )
        if decoder == "greedy":
            return ("greedy", None, None)
        if beam_size is not None and not 1 <= beam_size <= self.MAX_BEAM:
            raise InputError(f"beam_size must be between 1 and {self.MAX_BEAM}, got {beam_size}")
        if nbest is not None and not 1 <= nbest <= self.MAX_NBEST:
            raise InputError(f"nbest must be between 1 and {self.MAX_NBEST}, got {nbest}")
        return (decoder, beam_size, nbest)

    def option(self, decoder: str, beam_size: int | None, nbest: int | None):
        """The :class:`~seqlab.engine.task.DecodingOption` of a key, built once: the checkpoint's
        config with ``seqlab transcribe``'s decoder flags applied (``cli.common.decoder_overrides``)."""
        key = (decoder, beam_size, nbest)
        if key not in self._options:
            from seqlab.cli.common import decoder_overrides
            from seqlab.config import apply_overrides
            from seqlab.decoding.factory import build_decoder

            flags = argparse.Namespace(
                decoder="greedy" if decoder == "greedy" else "beam",
                beam_size=beam_size,
                nbest=nbest,
                lm=self.lm if decoder == "beam+lm" else None,
            )
            cfg = apply_overrides(self.task.cfg, decoder_overrides(flags))
            build_decoder(cfg.decoder, self.task.vocab)  # an LM that cannot load fails here
            self._options[key] = self.task.decoding_option(cfg.decoder)
        return self._options[key]

    def check(self, path: str | Path, label: str) -> float:
        """Check an uploaded audio file before it is queued; returns its duration in seconds."""
        from seqlab.audio.io import audio_info

        try:
            info = audio_info(path)
        except (RuntimeError, OSError) as err:
            raise InputError(
                f"{label}: not a readable audio file ({client_named(err, path, label)}); send a wav, flac "
                "or ogg file"
            ) from err
        if info.frames == 0:
            raise InputError(f"{label}: the audio has no samples; send a recording")
        if info.duration > self.limits.max_audio_seconds:
            raise InputError(
                f"{label}: {info.duration:.1f} s of audio is longer than this server's limit of "
                f"{self.limits.max_audio_seconds:g} s (--max-audio-seconds); cut it, or use "
                "`seqlab transcribe` for long recordings",
                status=413,
            )
        return info.duration

    def transcribe(self, path, label: str, decoder="greedy", beam_size=None, nbest=None) -> dict:
        """Check, queue and transcribe one audio file (``label``: the client's name for it)."""
        key = self.key(decoder, beam_size, nbest)
        self.option(*key)  # built outside the worker, so a request's bad choice fails here
        duration = self.check(path, label)
        return {**self.submit(key, (str(path), label)), "audio_seconds": round(duration, 4)}

    def _run_batch(self, key, payloads: list) -> list:
        from seqlab.tasks.asr.recognizer import InputWarning

        option = self.option(*key)
        self.task.use_decoding(option)
        paths = [path for path, _ in payloads]
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            try:
                lists = self.model.transcribe_nbest(paths, batch_size=len(paths))
            except (ValueError, OSError) as err:  # a bad input fails the whole call
                if len(paths) == 1:
                    lists = [InputError(client_named(err, *payloads[0]))]
                else:  # run each alone to say which (batched results equal these)
                    lists = [self._alone(path, label) for path, label in payloads]
        seconds = time.perf_counter() - t0
        notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
        out = []
        for (path, label), hyps in zip(payloads, lists, strict=True):
            if isinstance(hyps, Exception):
                out.append(hyps)
                continue
            row = {
                "model": self.name,
                "decoder": option.name,
                "text": hyps[0].text,
                "nbest": [
                    {"text": h.text, "score": h.score, "acoustic": h.acoustic, "lm": h.lm}
                    for h in hyps
                ],
                "batch_size": len(paths),
                "compute_seconds": round(seconds, 4),
            }
            mine = [client_named(n, path, label) for n in notes if path in n]
            if mine:
                row["warning"] = "; ".join(mine)
            out.append(row)
        return out

    def _alone(self, path: str, label: str):
        """One input's n-best list, or the :class:`InputError` it gives."""
        try:
            return self.model.transcribe_nbest(path)
        except (ValueError, OSError) as err:
            return InputError(client_named(err, path, label))
