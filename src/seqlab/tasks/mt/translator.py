"""A trained translation model for inference: ``seqlab.load(ckpt).translate(lines)`` and
``seqlab translate``."""

from __future__ import annotations

import warnings

import torch


class Translator:
    """A trained translation model: ``translate(lines)`` -> detokenised translations.

    Args:
        task: an :class:`seqlab.tasks.mt.task.MTTask` with its weights loaded.
        device: where to run the model.
    """

    runtime = "torch"  # what runs the model (seqlab translate --runtime; ct2.CT2Translator: "ct2")

    def __init__(self, task, device: str | torch.device = "cpu"):
        self.task = task
        self.device = torch.device(device)
        task.model.to(self.device).eval()

    @property
    def limits(self) -> dict[str, int]:
        """The longest source the model takes, by what limits it: ``data.max_src_tokens``
        (whitespace tokens: the longest sources it was trained on) and, with learned positions,
        ``model.max_positions`` (vocabulary ids: its position table ends there)."""
        limits = {}
        if self.task.cfg.data.get("max_src_tokens"):
            limits["data.max_src_tokens"] = int(self.task.cfg.data.max_src_tokens)
        if getattr(self.task.model, "max_decode_len", None):
            limits["model.max_positions"] = int(self.task.model.max_decode_len)
        return limits

    def _overflow(self, text: str) -> tuple[str, int, int] | None:
        """``(limit name, length, limit)`` of the first limit ``text`` exceeds, or None."""
        for name, limit in self.limits.items():
            n = (
                len(text.split())
                if name == "data.max_src_tokens"
                else len(self.task.src_vocab.encode(text))
            )
            if n > limit:
                return name, n, limit
        return None

    def split_long(self, line: str) -> list[str]:
        """``line`` in pieces that each fit the model: whole sentences (ending in . ! ? ; :) packed
        together while they fit, and a sentence too long alone cut into windows of words."""
        sentences, current = [], []
        for word in line.split():
            current.append(word)
            if word[-1] in ".!?;:":
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        pieces, piece = [], []
        for sentence in sentences:
            if not self._overflow(" ".join(piece + sentence)):
                piece += sentence
                continue
            if piece:
                pieces.append(piece)
            piece = sentence
            while self._overflow(" ".join(piece)):  # a window: the longest prefix that fits
                n = len(piece) - 1
                while n > 1 and self._overflow(" ".join(piece[:n])):
                    n -= 1
                pieces.append(piece[:n])
                piece = piece[n:]
        if piece:
            pieces.append(piece)
        return [" ".join(p) for p in pieces]

    def translate(
        self, lines: list[str], batch_size: int = 64, first_line: int = 1, **generation
    ) -> list[str]:
        """Translate source lines (tokenised like the training data); generation keys override
        the checkpoint's (``beam_size``, ``length_penalty``, ``lp_alpha``, ``max_len_ratio``).

        Always one output per line: an empty or blank line gives "". A line longer than the model
        takes (:attr:`limits`) is translated in pieces (:meth:`split_long`) whose translations are
        joined, with a ``UserWarning`` naming the line (``first_line`` numbers the first one)."""
        vocab = self.task.src_vocab
        units: list[tuple[int, str]] = []  # (line index, source text) actually translated
        for i, line in enumerate(lines):
            if not vocab.encode(line):
                continue  # empty or blank: an empty translation, without the model
            overflow = self._overflow(line)
            if overflow is None:
                units.append((i, line))
                continue
            pieces = self.split_long(line)
            name, n, limit = overflow
            warnings.warn(
                f"line {first_line + i}: {n} tokens is longer than the model's maximum of {limit} "
                f"({name}); translated in {len(pieces)} pieces, split at sentence punctuation "
                "(or in windows of words) and joined",
                UserWarning,
                stacklevel=2,
            )
            units.extend((i, piece) for piece in pieces)
        texts = [text for _, text in units]
        hyps: list[str] = [""] * len(units)
        order = sorted(range(len(units)), key=lambda u: len(texts[u].split()))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out = self._translate_texts([texts[u] for u in chunk], generation)
            for u, hyp in zip(chunk, out, strict=True):
                hyps[u] = hyp
        joined: list[list[str]] = [[] for _ in lines]
        for (i, _), hyp in zip(units, hyps, strict=True):
            if hyp:
                joined[i].append(hyp)
        return [" ".join(parts) for parts in joined]

    def _translate_texts(self, texts: list[str], generation: dict) -> list[str]:
        """Translations of one batch of source texts that fit the model (the runtime's part:
        :class:`~seqlab.tasks.mt.ct2.CT2Translator` runs CTranslate2 here)."""
        from seqlab.data.parallel import collate_mt

        vocab, tgt = self.task.src_vocab, self.task.tgt_vocab
        beam = int(generation.get("beam_size", self.task.cfg.generation.get("beam_size", 1))) > 1
        items = [
            {
                "id": str(k),
                "src_ids": vocab.encode(text),
                "tgt_ids": [],
                "src_text": text,
                "tgt_text": "",
            }
            for k, text in enumerate(texts)
        ]
        batch = collate_mt(items, tgt.pad_id, tgt.bos_id, tgt.eos_id)
        return self.task.translate_batch(
            batch["src"].to(self.device),
            batch["src_lengths"].to(self.device),
            beam=beam,
            **generation,
        )
