"""CTC prefix beam search with word-level shallow fusion of an n-gram or neural language model.

Our own code, because the peers each miss a part we need: pyctcdecode fuses KenLM only and is
unmaintained, torchaudio's flashlight decoder is in maintenance mode (and has no CPU build here),
NeMo's is tied to NeMo.

The search keeps, for every output prefix, the probability of all alignments that end in a blank
and of those that end in the prefix's last token (Graves 2012; Hannun et al. 2014), so alignments
that spell the same text are summed, not competing. Each hypothesis is ranked by

    score = ln P_ctc(prefix) + alpha * ln P_lm(words) + beta * n_words

where the LM scores a word when it is completed (a space for characters, a piece starting with
"▁" for sentencepiece) and, at the end of the utterance, the last partial word and ``</s>``.
Words the LM does not know, and partial words that begin no word it knows, get ``unk_offset``
added to their LM score (as pyctcdecode does), so the search leaves misspellings early.

Pruning: per frame only tokens with ``ln p >= token_min_logp`` (and among the ``token_top_k``
best) extend a prefix; hypotheses more than ``-beam_prune_logp`` below the best are dropped; at
most ``beam_size`` survive a frame. Runs of frames where only the blank survives pruning are
collapsed into one update. A beam of one without an LM is best-path (greedy) decoding.

Many utterances are decoded in lock-step, so a neural LM scores the words completed at a frame
by all their hypotheses in one batch; with ``workers > 1`` groups of utterances go to forked
worker processes (n-gram LMs and no LM; a neural LM stays in the main process). Either way each
utterance gets exactly the n-best list it gets when decoded alone.

Usage::

    decoder = CTCBeamSearchDecoder.from_vocab(vocab, beam_size=10, lm=load_lm("lm.arpa"),
                                              alpha=0.5, beta=1.0)
    nbest = decoder.decode_batch(log_probs, lengths)   # (B, T, V) log-softmax, (B,)
    nbest[0][0].text, nbest[0][0].score
"""

from __future__ import annotations

import contextlib
import gc
import math
import operator
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from seqlab.decoding.ctc_greedy import ctc_greedy_decode
from seqlab.decoding.hypothesis import Hypothesis, single_spaced
from seqlab.decoding.lm.interface import LanguageModel
from seqlab.pools import process_pool

NEG = float("-inf")
_score_of = operator.itemgetter(0)  # a beam row's ranking score
_log1p = math.log1p
_exp = math.exp


def _lse(a: float, b: float) -> float:
    """ln(e^a + e^b), exact at -inf."""
    if a < b:
        a, b = b, a
    if b == NEG:
        return a
    return a + _log1p(_exp(b - a))


class _Trie:
    """The prefixes of a search, as integer ids into parallel lists (cheap to make, fast to hash).

    A prefix is made once, when a hypothesis first extends its parent by its last token, and is
    shared by every utterance searched in the same group, so its LM score is computed once.
    """

    def __init__(self, n_tokens: int, lm_state) -> None:
        self.n_tokens = n_tokens
        self.child_of: dict[int, int] = {}  # parent * n_tokens + token -> child id
        self.parent = [-1]
        self.token = [-1]
        # the prefix that ends with the last completed word: it holds the LM's view of the words
        # (state, ln P, count) for all its descendants spelling the next word
        self.origin = [0]
        self.state = {0: lm_state}  # origin -> LM state after the completed words
        self.lm = {0: 0.0}  # origin -> ln P_lm of the completed words, unk offsets included
        self.n_words = {0: 0}  # origin -> number of completed words
        self.partial = [""]  # characters of the word being spelled
        self.unknown = [False]  # the partial word begins no word the LM knows (penalised)
        self.bonus = [0.0]  # alpha * (lm + partial-word penalty) + beta * n_words

    def tokens(self, node: int) -> list[int]:
        out = []
        while node > 0:
            out.append(self.token[node])
            node = self.parent[node]
        return out[::-1]


class CTCBeamSearchDecoder:
    """CTC prefix beam search over characters or subwords with optional LM fusion.

    Args:
        tokens: the text of each output id (``tokens[blank]`` is ignored). Characters: the space
            token is the word delimiter. Sentencepiece pieces: a leading ``▁`` starts a word.
        blank: the CTC blank id.
        beam_size: hypotheses kept per frame.
        nbest: hypotheses returned per utterance (at most ``beam_size``).
        token_min_logp: per-frame token pruning: tokens below this ln-probability do not extend
            a prefix (the frame's best token always may). ``None``: no cutoff.
        token_top_k: per-frame token pruning: at most this many tokens extend a prefix (``None``: all).
        beam_prune_logp: drop hypotheses whose score is this far below the frame's best (``None``: never).
        lm: a :class:`seqlab.decoding.lm.LanguageModel`, or ``None`` for acoustic-only search.
        alpha: LM weight (natural-log units, as pyctcdecode's).
        beta: word-insertion bonus per scored word (applied with an LM only).
        unk_offset: added to the LM score of an unknown word, and of a partial word that begins no
            known word (ln units; pyctcdecode's -10 in log10 is about -23).
        detokenize: token ids -> text (e.g. ``vocab.decode``); default joins the token texts,
            turning ``▁`` into spaces.
        workers: processes for many utterances (forked; 1 = in this process). Ignored for neural
            LMs, which batch their work in this process instead.
        group_size: utterances searched in lock-step (their LM requests share batches).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        blank: int = 0,
        beam_size: int = 10,
        nbest: int = 1,
        token_min_logp: float | None = -8.0,
        token_top_k: int | None = None,
        beam_prune_logp: float | None = -12.0,
        lm: LanguageModel | None = None,
        alpha: float = 0.5,
        beta: float = 1.0,
        unk_offset: float = -23.0,
        detokenize: Callable[[list[int]], str] | None = None,
        workers: int = 1,
        group_size: int = 16,
    ) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if alpha < 0:
            raise ValueError(f"alpha (the LM weight) must be >= 0, got {alpha}")
        if nbest < 1:
            raise ValueError(f"nbest must be >= 1, got {nbest}")
        if not 0 <= blank < len(tokens):
            raise ValueError(f"blank id {blank} is outside the {len(tokens)} tokens")
        if token_top_k is not None and token_top_k < 1:
            raise ValueError(f"token_top_k must be >= 1 or None, got {token_top_k}")
        self.tokens = list(tokens)
        self.blank = blank
        self.beam_size = int(beam_size)
        self.nbest = min(int(nbest), self.beam_size)
        self.token_min_logp = NEG if token_min_logp is None else float(token_min_logp)
        self.token_top_k = token_top_k
        self.beam_prune_logp = NEG if beam_prune_logp is None else float(beam_prune_logp)
        self.lm = lm
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.unk_offset = float(unk_offset)
        self.workers = max(1, int(workers))
        self.group_size = max(1, int(group_size))
        self._detokenize = detokenize
        # How each token edits the text: (delimiter?, starts a word?, characters)
        self._subword = any(t.startswith("\u2581") for t in self.tokens)
        self._kind: list[tuple[bool, bool, str]] = []
        for i, text in enumerate(self.tokens):
            if i == blank:
                self._kind.append((False, False, ""))
            elif self._subword:
                self._kind.append((False, text.startswith("\u2581"), text.lstrip("\u2581")))
            else:
                delimiter = text == " "
                self._kind.append((delimiter, False, "" if delimiter else text))

    @classmethod
    def from_vocab(cls, vocab, **kwargs) -> CTCBeamSearchDecoder:
        """A decoder for a seqlab vocabulary (character or sentencepiece); see ``__init__``."""
        if vocab.kind == "sentencepiece":
            sp = vocab.processor
            tokens = ["<blank>"] + [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        else:
            tokens = list(vocab.symbols)
        kwargs.setdefault("detokenize", vocab.decode)
        return cls(tokens, blank=vocab.blank_id, **kwargs)

    # ---- public ---------------------------------------------------------------------------------
    def decode(self, log_probs, lengths=None) -> list[str]:
        """The best transcript of each utterance (see :meth:`decode_batch`)."""
        return [nbest[0].text for nbest in self.decode_batch(log_probs, lengths)]

    def decode_batch(self, log_probs, lengths=None) -> list[list[Hypothesis]]:
        """N-best lists for a batch.

        Args:
            log_probs: (B, T, V) log-softmax outputs (tensor or array), or a list of (T_i, V) arrays.
            lengths: (B,) valid frames per item (ignored for a list input).

        Returns:
            One list per utterance of up to ``nbest`` hypotheses, best first.
        """
        if self.beam_size == 1 and self.lm is None:  # the best path: exactly greedy decoding
            tokens, scores = ctc_greedy_decode(log_probs, lengths, self.blank, len(self.tokens))
            return [
                [Hypothesis(self._text(ids), ids, score, score, 0.0, 0)]
                for ids, score in zip(tokens, scores, strict=True)
            ]
        items = _as_arrays(log_probs, lengths, len(self.tokens))
        neural = self.lm is not None and not _forkable_lm(self.lm)
        if self.workers > 1 and not neural and len(items) > self.group_size:
            return self._decode_in_workers(items)
        out: list[list[Hypothesis]] = []
        with _no_gc():
            for start in range(0, len(items), self.group_size):
                out.extend(self._search(items[start : start + self.group_size]))
        return out

    # ---- search ---------------------------------------------------------------------------------
    def _candidates(self, items: list[np.ndarray]) -> list[tuple[list, list]]:
        """Per utterance and frame: the blank's ln p and the (token, ln p) pairs that survive
        pruning. All utterances go through numpy at once (per-call overhead dominates otherwise)."""
        if not items:
            return []
        lp = np.concatenate(items) if len(items) > 1 else items[0]  # (sum T, V)
        n_frames, n_tokens = lp.shape
        blank_lp = lp[:, self.blank].tolist()
        keep = lp >= self.token_min_logp  # (T, V)
        if self.token_top_k is not None and self.token_top_k < n_tokens:
            kth = np.partition(lp, n_tokens - self.token_top_k, axis=1)[
                :, n_tokens - self.token_top_k
            ]
            keep &= lp >= kth[:, None]
        if n_frames:
            keep[np.arange(n_frames), lp.argmax(axis=1)] = True  # the best token always may
        keep[:, self.blank] = False
        rows, cols = np.nonzero(keep)
        cands: list[list[tuple[int, float]]] = [[] for _ in range(n_frames)]
        for t, tok, value in zip(
            rows.tolist(), cols.tolist(), lp[rows, cols].tolist(), strict=True
        ):
            cands[t].append((tok, value))
        out, start = [], 0
        for x in items:
            end = start + len(x)
            out.append((blank_lp[start:end], cands[start:end]))
            start = end
        return out

    def _child(self, trie: _Trie, node: int, token: int, pending: list) -> int:
        """Make the prefix ``node + token``; LM scores of completed words are queued in ``pending``."""
        child = len(trie.parent)
        trie.child_of[node * trie.n_tokens + token] = child
        trie.parent.append(node)
        trie.token.append(token)
        if self.lm is None:
            trie.origin.append(0)
            trie.partial.append("")
            trie.unknown.append(False)
            trie.bonus.append(0.0)
            return child
        delimiter, starts_word, chars = self._kind[token]
        partial = trie.partial[node]
        origin = trie.origin[node]
        if (delimiter or starts_word) and partial:  # a word is complete: score it (see _flush)
            trie.origin.append(child)
            trie.state[child] = None
            trie.lm[child] = None
            trie.n_words[child] = trie.n_words[origin] + 1
            trie.partial.append(chars)
            trie.unknown.append(False)
            trie.bonus.append(0.0)
            pending.append((child, trie.state[origin], partial))
            return child
        if not (delimiter or starts_word):
            chars = partial + chars
        unknown = bool(chars) and not self.lm.partial_is_known(chars)
        trie.origin.append(origin)
        trie.partial.append(chars)
        trie.unknown.append(unknown)
        trie.bonus.append(self._bonus(trie.lm[origin], trie.n_words[origin], unknown))
        return child

    def _gain(self, unknown: bool) -> float:
        """Upper bound of the bonus change when a word boundary follows a prefix: the word's
        ln p is <= 0, so at most beta, plus the partial-word penalty that goes away."""
        return max(0.0, self.beta - (self.alpha * self.unk_offset if unknown else 0.0))

    def _bonus(self, lm: float, n_words: int, unknown: bool) -> float:
        if unknown:
            lm = lm + self.unk_offset
        return self.alpha * lm + self.beta * n_words

    def _flush(self, trie: _Trie, pending: list) -> None:
        """Score the words completed this frame, all hypotheses and utterances in one batch."""
        if not pending:
            return
        lm = self.lm
        scored = lm.score_words([(state, word) for _, state, word in pending])
        for (child, _, word), (logp, state) in zip(pending, scored, strict=True):
            if not lm.word_is_known(word):
                logp += self.unk_offset
            total = trie.lm[trie.origin[trie.parent[child]]] + logp
            partial = trie.partial[child]
            unknown = bool(partial) and not lm.partial_is_known(partial)
            trie.state[child] = state
            trie.lm[child] = total
            trie.unknown[child] = unknown
            trie.bonus[child] = self._bonus(total, trie.n_words[child], unknown)
        pending.clear()

    def _search(self, items: list[np.ndarray]) -> list[list[Hypothesis]]:
        """Prefix beam search of several utterances in lock-step."""
        beam_size, prune = self.beam_size, self.beam_prune_logp
        n_tokens = len(self.tokens)
        log1p, exp = math.log1p, math.exp
        preps = self._candidates(items)
        trie = _Trie(n_tokens, self.lm.start() if self.lm is not None else None)
        child_of, token_of, bonus = trie.child_of, trie.token, trie.bonus
        make_child = self._child
        # tokens that may complete a word (without an LM no word is scored: none)
        boundary = [(d or w) and self.lm is not None for d, w, _ in self._kind]
        chars = [c for _, _, c in self._kind]
        partial, unknown = trie.partial, trie.unknown
        # the LM's set of word beginnings (None: it cannot tell, every partial word is fine)
        known = getattr(self.lm, "prefixes", None) if self.lm is not None else None
        if self.lm is not None and known is None and not hasattr(self.lm, "prefixes"):
            known = _AskLM(self.lm)  # an LM with only partial_is_known()
        alpha_unk = self.alpha * self.unk_offset
        gain_known, gain_unknown = self._gain(False), self._gain(True)
        token_parent, origin_of = trie.parent, trie.origin
        # per utterance, best first: (score, prefix id, ln p ending in blank, ln p ending in the
        # prefix's last token, ln p of both); score = ln p of both + the prefix's LM bonus
        beams: list[list[tuple]] = [[(0.0, 0, 0.0, NEG, 0.0)] for _ in items]
        carried = [0.0 for _ in items]  # ln p of a run of blank-only frames not yet applied
        longest = max((len(x) for x in items), default=0)
        pending: list = []
        late: list[tuple[list, int]] = []  # (rows, index) of hypotheses waiting for the LM
        for t in range(longest):
            fresh: list[tuple[int, list]] = []
            for u, (blank_lp, cands) in enumerate(preps):
                if t >= len(blank_lp):
                    continue
                lb = blank_lp[t]
                frame = cands[t]
                beam = beams[u]
                if not frame:  # only the blank survives: every prefix just ends in a blank
                    if carried[u] == 0.0:  # first frame of a run: fold the token-ending mass in
                        beams[u] = [(sc, n, tot, NEG, tot) for sc, n, _, _, tot in beam]
                    carried[u] += lb  # the rest of the run shifts every prefix alike
                    continue
                if carried[u] != 0.0:
                    c = carried[u]
                    beam = [(sc + c, n, pb + c, NEG, tot + c) for sc, n, pb, _, tot in beam]
                    carried[u] = 0.0
                # Every prefix stays (by a blank) and merging only adds probability, so a new
                # hypothesis below the beam_size-th stay score, or below the best stay by more
                # than the pruning margin, would be dropped after this frame: skip it now.
                floor = beam[0][0] + prune
                if len(beam) >= beam_size and beam[-1][0] > floor:
                    floor = beam[-1][0]
                floor += lb
                # The stays' scores are summed in another order than this bound, so rounding can
                # put the beam_size-th stay (equal to it when only a blank extends it) an ulp
                # below it: a margin far above rounding and far below real score gaps keeps the
                # bound safe (else that stay is lost, or not, by a float's last bit).
                floor -= 1e-9 * (1.0 + abs(floor))
                # A prefix of the beam gains probability only by staying (a blank, or its own last
                # token again) and from its parent when that is in the beam too; a new prefix
                # only from its parent. So every hypothesis of the frame is scored right here.
                flp = dict(frame)  # token -> ln p at this frame
                kept = {row[1]: row for row in beam}
                out = []
                for _, node, pb, pnb, total in beam:
                    last = token_of[node]
                    new_pnb = NEG
                    y = flp.get(last)
                    if y is not None:
                        if pnb != NEG:
                            new_pnb = pnb + y
                        up = kept.get(token_parent[node])
                        if up is not None:  # the parent is kept too: its extension lands here
                            add = (up[2] if token_of[up[1]] == last else up[4]) + y
                            if add != NEG:
                                if new_pnb == NEG:
                                    new_pnb = add
                                elif new_pnb > add:
                                    new_pnb += log1p(exp(add - new_pnb))
                                else:
                                    new_pnb = add + log1p(exp(new_pnb - add))
                    new_pb = total + lb
                    if new_pnb == NEG:
                        new_total = new_pb
                    elif new_pb > new_pnb:
                        new_total = new_pb + log1p(exp(new_pnb - new_pb))
                    else:
                        new_total = new_pnb + log1p(exp(new_pb - new_pnb))
                    score = new_total + bonus[node]
                    if score >= floor:  # (below it, the prefix would be pruned after the frame)
                        out.append((score, node, new_pb, new_pnb, new_total))
                        if score + prune > floor:  # the frame's best so far raises the floor
                            floor = score + prune
                    base = node * n_tokens
                    for tok, lp in frame:
                        if tok == last:  # a repeat only extends after a blank
                            if pb == NEG:
                                continue
                            add = pb + lp
                        else:
                            add = total + lp
                        child = child_of.get(base + tok)
                        if child is not None and child in kept:
                            continue  # scored with the beam: its stay row took this extension
                        if boundary[tok]:  # may complete a word: scored once the LM has it
                            # The same way whether or not the prefix exists: another utterance
                            # of the group may have made it this frame, its LM score still
                            # pending (its bonus a placeholder), so a group decodes as alone.
                            most = gain_unknown if unknown[node] else gain_known
                            if add + bonus[node] + most < floor:
                                continue  # not even the best possible LM score would help
                            if child is None:
                                child = make_child(trie, node, tok, pending)
                            late.append((out, len(out)))
                            out.append((None, child, NEG, add, add))
                            continue
                        if child is None:
                            b = bonus[node]  # a prefix made only if it survives the frame
                            if add + b < floor:
                                continue  # even without a partial-word penalty
                            if (
                                known is not None
                                and not unknown[node]
                                and partial[node] + chars[tok] not in known
                            ):
                                b += alpha_unk  # it now begins no known word
                                if add + b < floor:
                                    continue
                            score = add + b
                            out.append((score, ~(base + tok), NEG, add, add))  # not made yet
                            if score + prune > floor:
                                floor = score + prune
                        else:  # made earlier (by this or another utterance): same score
                            score = add + bonus[child]
                            if score >= floor:
                                out.append((score, child, NEG, add, add))
                                if score + prune > floor:
                                    floor = score + prune
                fresh.append((u, out))
            if pending:
                self._flush(trie, pending)
            for rows, i in late:  # words completed this frame: their LM score is in now
                _, child, pb, pnb, total = rows[i]
                rows[i] = (total + bonus[child], child, pb, pnb, total)
            late.clear()
            for u, scored in fresh:  # keep the best within the margin
                # By score alone, stable: ties keep the order the rows were made in, which does
                # not depend on prefix ids (those differ when a group shares the trie).
                scored.sort(key=_score_of, reverse=True)  # (faster than heapq.nlargest here)
                del scored[beam_size:]
                if prune != NEG and len(scored) > 1:
                    floor = scored[0][0] + prune
                    if scored[-1][0] < floor:
                        scored = [x for x in scored if x[0] >= floor]
                for i, (sc, node, pb, pnb, total) in enumerate(scored):
                    if node < 0:  # a survivor not made yet: make it now (inline _child)
                        code = ~node
                        child = child_of.get(code)
                        if child is None:
                            parent, tok = divmod(code, n_tokens)
                            child = len(token_of)
                            child_of[code] = child
                            token_parent.append(parent)
                            token_of.append(tok)
                            origin_of.append(origin_of[parent])
                            spelled = partial[parent] + chars[tok]
                            partial.append(spelled)
                            b = bonus[parent]
                            is_unknown = unknown[parent]
                            if not is_unknown and known is not None and spelled not in known:
                                is_unknown = True
                                b += alpha_unk
                            unknown.append(is_unknown)
                            bonus.append(b)
                        scored[i] = (sc, child, pb, pnb, total)
                beams[u] = scored
        finals = []
        for u, beam in enumerate(beams):
            c = carried[u]
            finals.append({n: (pb + c, pnb) for _, n, pb, pnb, _ in beam})
        return [self._finish(trie, b) for b in finals]

    def _finish(self, trie: _Trie, beams: dict) -> list[Hypothesis]:
        """Score the last partial word and ``</s>``, rank, and build the n-best list."""
        lm = self.lm
        rows = []
        if lm is None:
            for node, (pb, pnb) in beams.items():
                acoustic = _lse(pb, pnb)
                rows.append((acoustic, acoustic, 0.0, 0, node))
        else:
            nodes = list(beams)
            origin = {n: trie.origin[n] for n in nodes}
            partial = [n for n in nodes if trie.partial[n]]
            scored = lm.score_words([(trie.state[origin[n]], trie.partial[n]) for n in partial])
            final = {n: (trie.state[origin[n]], 0.0, 0) for n in nodes}
            for n, (logp, state) in zip(partial, scored, strict=True):
                if not lm.word_is_known(trie.partial[n]):
                    logp += self.unk_offset
                final[n] = (state, logp, 1)
            ends = lm.score_end([final[n][0] for n in nodes])
            for n, end in zip(nodes, ends, strict=True):
                _, last_word, extra = final[n]
                pb, pnb = beams[n]
                acoustic = _lse(pb, pnb)
                lm_total = trie.lm[origin[n]] + last_word + end
                words = trie.n_words[origin[n]] + extra
                score = acoustic + self.alpha * lm_total + self.beta * words
                rows.append((score, acoustic, lm_total, words, n))
        rows.sort(key=lambda r: r[0], reverse=True)
        out = []
        for score, acoustic, lm_total, words, node in rows[: self.nbest]:
            tokens = trie.tokens(node)
            out.append(Hypothesis(self._text(tokens), tokens, score, acoustic, lm_total, words))
        return out

    def _text(self, tokens: list[int]) -> str:
        """The transcript of ``tokens``, single-spaced (see :func:`single_spaced`)."""
        if self._detokenize is not None:
            return single_spaced(self._detokenize(tokens))
        return single_spaced("".join(self.tokens[i] for i in tokens).replace("\u2581", " "))

    def _decode_in_workers(self, items: list[np.ndarray]) -> list[list[Hypothesis]]:
        import multiprocessing as mp

        global _WORKER_DECODER
        groups = [items[i : i + self.group_size] for i in range(0, len(items), self.group_size)]
        _WORKER_DECODER = self  # inherited by the forked workers: the LM is not pickled
        try:
            ctx = mp.get_context("fork")
            with process_pool(ctx, min(self.workers, len(groups), os.cpu_count() or 1)) as pool:
                results = pool.map(_worker_search, groups, chunksize=1)
        finally:
            _WORKER_DECODER = None
        return [hyps for group in results for hyps in group]


class _AskLM:
    """``partial in known`` for an LM that only has ``partial_is_known``."""

    def __init__(self, lm) -> None:
        self.lm = lm

    def __contains__(self, partial: str) -> bool:
        return self.lm.partial_is_known(partial)


_WORKER_DECODER: CTCBeamSearchDecoder | None = None


def _worker_search(group: list[np.ndarray]) -> list[list[Hypothesis]]:
    with _no_gc():
        return _WORKER_DECODER._search(group)


@contextlib.contextmanager
def _no_gc():
    """The search makes many small objects and no reference cycles: the cyclic garbage collector
    would only walk them again and again (about a third of the time). Restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _forkable_lm(lm) -> bool:
    """N-gram LMs are plain memory a forked worker can share; torch models are not forked."""
    return not isinstance(lm, torch.nn.Module) and not getattr(lm, "uses_torch", False)


def _as_arrays(log_probs, lengths, n_tokens: int) -> list[np.ndarray]:
    """(B, T, V) tensor/array + lengths, or a list of (T_i, V) arrays -> list of float64 arrays."""
    if isinstance(log_probs, (list, tuple)):
        arrays = [_to_numpy(x) for x in log_probs]
    else:
        full = _to_numpy(log_probs)
        if full.ndim != 3:
            raise ValueError(f"log_probs must be (B, T, V), got shape {full.shape}")
        if lengths is None:
            lengths = [full.shape[1]] * full.shape[0]
        lengths = _to_numpy(lengths).astype(np.int64).tolist()
        if len(lengths) != full.shape[0]:
            raise ValueError(f"{len(lengths)} lengths for a batch of {full.shape[0]}")
        if any(n < 0 or n > full.shape[1] for n in lengths):
            raise ValueError(
                f"lengths must lie in [0, {full.shape[1]}] (the frames of log_probs), got {lengths}"
            )
        arrays = [full[i, :n] for i, n in enumerate(lengths)]
    for i, x in enumerate(arrays):
        if x.ndim != 2 or x.shape[1] != n_tokens:
            raise ValueError(
                f"item {i}: log_probs must be (T, {n_tokens}) for this vocabulary, got {x.shape}"
            )
    return arrays


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy().astype(np.float64)
    return np.asarray(x, dtype=np.float64)
