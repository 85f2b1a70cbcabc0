"""A served translation model: text -> its translation, line by line, as ``seqlab translate``
translates (seqlab/serve/models.py holds what every kind shares)."""

from __future__ import annotations

import re
import time
import warnings

from seqlab.serve.models import InputError, ServedModel


class ServedTranslator(ServedModel):
    """A translation model: text (one sentence per line) -> its translation, line by line, as
    ``seqlab translate`` gives it (the same ``translate`` call, several requests' lines in one)."""

    kind = "mt"
    MAX_BEAM = 64

    @property
    def default_beam_size(self) -> int:
        """The checkpoint's beam size, used when a request gives none."""
        return int(self.task.cfg.get("generation", {}).get("beam_size", 1))

    def info(self) -> dict:
        return {**super().info(), "default_beam_size": self.default_beam_size}

    def translate(self, text, beam_size: int | None = None) -> dict:
        """Check, queue and translate one text."""
        if not isinstance(text, str):
            raise InputError(f"text must be a string, got {type(text).__name__}")
        if len(text) > self.limits.max_text_chars:
            raise InputError(
                f"the text has {len(text):,} characters, more than this server's limit of "
                f"{self.limits.max_text_chars:,} (--max-text-chars); send it in parts, or use "
                "`seqlab translate` for whole files",
                status=413,
            )
        if not text.strip():
            raise InputError("the text is empty; send a sentence to translate")
        if "\x00" in text:
            raise InputError("the text holds a NUL character; send plain text")
        if beam_size is not None and not 1 <= beam_size <= self.MAX_BEAM:
            raise InputError(f"beam_size must be between 1 and {self.MAX_BEAM}, got {beam_size}")
        lines = text.replace("\r\n", "\n").split("\n")
        return self.submit(beam_size, lines)

    def _run_batch(self, beam_size, payloads: list) -> list:
        flat = [line for lines in payloads for line in lines]
        generation = {} if beam_size is None else {"beam_size": beam_size}
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UserWarning)
            hyps = self.model.translate(flat, batch_size=max(len(flat), 1), **generation)
        seconds = time.perf_counter() - t0
        # warnings name "line N" of the whole call: give each request its own line numbers
        notes: dict[int, str] = {}
        for w in caught:
            found = re.match(r"line (\d+): ", str(w.message))
            if found:
                notes[int(found.group(1)) - 1] = str(w.message)[found.end() :]
        out, start = [], 0
        for lines in payloads:
            mine = [
                f"line {i + 1}: {notes[start + i]}" for i in range(len(lines)) if start + i in notes
            ]
            row = {
                "model": self.name,
                "translation": "\n".join(hyps[start : start + len(lines)]),
                "beam_size": self.default_beam_size if beam_size is None else beam_size,
                "batch_size": len(payloads),
                "compute_seconds": round(seconds, 4),
            }
            if mine:
                row["warning"] = "; ".join(mine)
            out.append(row)
            start += len(lines)
        return out
