"""A Hugging Face causal LM (GPT-2 format) as a word-level LM for CTC fusion and n-best rescoring.

    lm = HFCausalLM("runs/lm_gpt2_small/<run>/checkpoints/best/hf")   # or OpenAI's GPT-2 directory
    [(lp, s1)] = lm.score_words([(lm.start(), "hello")])             # ln P(hello | <s>)
    [end] = lm.score_end([s1])                                       # ln P(</s> | <s> hello)
    lm.sentence_scores(["a cat", "a hat"])                          # n-best rescoring (decoder.rescore_lm)

A word's score is the sum of its tokens' log-probabilities given the history. Words after the
first get a leading space (" word"), as GPT-2's byte-level BPE writes them; a word-level tokenizer
(the one ``seqlab train lm_gpt2_small`` builds) gives one token per word (``<unk>`` if unknown).
A state is the tuple of the history's token ids, beginning with the sentence-start token
(``<s>``, or GPT-2's ``<|endoftext|>``); the end of a sentence is the eos token.

Ours (not ``transformers``' generation utilities) because fusion needs the log-probability of given
words after many histories at once, not sampling: requests are deduplicated, the next-token
distribution of each history is computed once (one forward serves every word that follows it),
all missing histories of a call run in one padded batch, and a history extends the cached keys and
values (``past_key_values``) of its longest already-computed prefix instead of running from the
start.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqlab.decoding.lm.interface import State, sentence_scores_by_words


def import_transformers():
    """``transformers``, or an ImportError that says how to install it (it is an optional extra)."""
    try:
        import transformers
    except ImportError as err:
        raise ImportError(
            "neural language models need the `transformers` package, an optional extra of seqlab: "
            "pip install 'seqlab[hf]'"
        ) from err
    return transformers


class _LRU(OrderedDict):
    """A dict that forgets its least recently used entries beyond ``max_items``."""

    def __init__(self, max_items: int):
        super().__init__()
        self.max_items = max(1, int(max_items))

    def get_hit(self, key):
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.max_items:
            self.popitem(last=False)


@dataclass
class _Job:
    """One row of a forward batch: feed ``tokens`` after the cached keys/values of ``past``."""

    tokens: tuple[int, ...]  # token ids to feed
    past_len: int = 0  # tokens before them, whose keys/values are cached
    past: list | None = None  # those keys/values: per layer (k, v), each (H, past_len, D)
    outputs: list[tuple[tuple[int, ...], int]] = field(default_factory=list)  # (prefix, feed index)
    kv_keys: list[tuple[tuple[int, ...], int]] = field(default_factory=list)  # (prefix, its length)


class HFCausalLM:
    """Natural-log word scores from a causal LM directory (``config.json`` + weights + tokenizer).

    Args:
        directory: a Hugging Face causal LM directory, e.g. ``<checkpoint>/hf`` or GPT-2's.
        device: where the model runs (``cpu``, ``cuda``).
        batch_size: histories per forward pass.
        dtype: model weights' dtype (e.g. ``torch.float16`` on a GPU); None keeps the saved one.
        kv_cache: reuse the keys/values of computed histories (``past_key_values``); False runs
            every missing history from its start (same scores up to float rounding).
        cache_mb: memory for cached next-token distributions (CPU) and, as much again, for
            cached keys/values (on ``device``); least recently used entries go first.
    """

    uses_torch = True  # the beam search batches its requests instead of forking workers

    def __init__(
        self,
        directory: str | Path,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        dtype: torch.dtype | None = None,
        kv_cache: bool = True,
        cache_mb: int = 256,
    ):
        transformers = import_transformers()
        directory = Path(directory)
        if not (directory / "config.json").is_file():
            raise FileNotFoundError(
                f"{directory} has no config.json: not a Hugging Face model directory (pass the "
                "folder that holds config.json, e.g. <run>/checkpoints/best/hf)"
            )
        # trust_remote_code=False: an auto_map in a loaded config.json never imports code
        config = transformers.AutoConfig.from_pretrained(directory, trust_remote_code=False)
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                directory, trust_remote_code=False
            )
        except (ValueError, KeyError) as err:
            raise ValueError(
                f"{directory} holds a '{getattr(config, 'model_type', '?')}' model, which is not a "
                "causal language model (AutoModelForCausalLM cannot load it); pass a GPT-2-style "
                "LM directory such as <run>/checkpoints/best/hf from `seqlab train lm_gpt2_small`"
            ) from err
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                directory, trust_remote_code=False
            )
        except (OSError, ValueError, TypeError) as err:
            raise ValueError(
                f"{directory} has no usable tokenizer (tokenizer.json / tokenizer_config.json); "
                "a language model directory needs the tokenizer it was trained with"
            ) from err
        self._setup(model, tokenizer, device, batch_size, dtype, kv_cache, cache_mb)

    @classmethod
    def from_model(
        cls,
        model,
        tokenizer,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        dtype: torch.dtype | None = None,
        kv_cache: bool = True,
        cache_mb: int = 256,
    ) -> HFCausalLM:
        """Wrap an already loaded causal LM and tokenizer (e.g. a training task's); args as ``__init__``."""
        import_transformers()
        self = cls.__new__(cls)
        self._setup(model, tokenizer, device, batch_size, dtype, kv_cache, cache_mb)
        return self

    def _setup(self, model, tokenizer, device, batch_size, dtype, kv_cache, cache_mb) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if dtype is not None:
            self.model = self.model.to(dtype)
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.kv_cache = bool(kv_cache)
        config = model.config
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else config.eos_token_id
        bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else config.bos_token_id
        if eos is None:
            raise ValueError(
                "the tokenizer and config of this language model name no end-of-sentence token "
                "(eos_token); word fusion needs one to score the end of a sentence"
            )
        self.eos_id = int(eos)
        self.bos_id = int(bos) if bos is not None else self.eos_id  # GPT-2: both <|endoftext|>
        self.max_positions = int(
            getattr(config, "n_positions", None)
            or getattr(config, "max_position_embeddings", None)
            or 1024
        )
        self.vocab_size = int(model.get_output_embeddings().weight.shape[0])
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self.word_level = backend is not None and type(backend.model).__name__ == "WordLevel"
        self.unk_id = tokenizer.unk_token_id
        self._known: set[str] = set()
        self._prefixes: set[str] = set()
        if self.word_level:
            specials = set(tokenizer.all_special_tokens)
            self._known = {w for w in tokenizer.get_vocab() if w not in specials}
            self._prefixes = {w[:i] for w in self._known for i in range(len(w) + 1)}
        row_bytes = 4 * self.vocab_size
        self._dist = _LRU(cache_mb * 2**20 // row_bytes)  # prefix -> (V,) float32 log-probs, CPU
        hidden = getattr(config, "n_embd", None) or getattr(config, "hidden_size", None) or 1024
        layers = (
            getattr(config, "n_layer", None) or getattr(config, "num_hidden_layers", None) or 24
        )
        token_bytes = 2 * int(layers) * int(hidden) * self.model.dtype.itemsize  # keys + values
        # an entry holds one history's keys/values (a few dozen tokens; its prefixes are views)
        self._kv = _LRU(cache_mb * 2**20 // (token_bytes * 32))  # prefix -> per layer (k, v)
        self._words = _LRU(200_000)  # (state, word) -> (logp, state after the word)
        self._tokens: dict[tuple[str, bool], tuple[int, ...]] = {}

    # ---- the LanguageModel protocol (seqlab/decoding/lm/interface.py) -----------------------
    def start(self) -> State:
        """The state after the sentence-start token."""
        return (self.bos_id,)

    @torch.inference_mode()
    def score_words(self, requests: Sequence[tuple[State, str]]) -> list[tuple[float, State]]:
        """``ln P(word | state)`` and the state after ``word`` for every request, in one batch."""
        results: list[tuple[float, State] | None] = [None] * len(requests)
        pending: dict[tuple[State, str], list[int]] = {}
        for i, (state, word) in enumerate(requests):
            hit = self._words.get_hit((state, word))
            if hit is not None:
                results[i] = hit
            else:
                pending.setdefault((state, word), []).append(i)
        if pending:
            plans = {}
            needed: set[tuple[int, ...]] = set()
            for state, word in pending:
                tokens = self.word_tokens(word, first=state == self.start())
                prefixes = [state + tokens[:j] for j in range(len(tokens))]
                plans[(state, word)] = (tokens, prefixes)
                needed.update(prefixes)
            rows = self._distributions(needed)
            for key, indices in pending.items():
                tokens, prefixes = plans[key]
                logp = sum(float(rows[p][t]) for p, t in zip(prefixes, tokens, strict=True))
                value = (logp, key[0] + tokens)
                self._words.put(key, value)
                for i in indices:
                    results[i] = value
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def score_end(self, states: Sequence[State]) -> list[float]:
        """``ln P(eos | state)`` for each state."""
        rows = self._distributions(set(states))
        return [float(rows[s][self.eos_id]) for s in states]

    def word_is_known(self, word: str) -> bool:
        """Word-level vocabulary: whether ``word`` has its own token; subword LMs know every word."""
        return word in self._known if self.word_level else True

    def partial_is_known(self, partial: str) -> bool:
        """Word-level vocabulary: whether some known word starts with ``partial``; else True."""
        return partial in self._prefixes if self.word_level else True

    @torch.inference_mode()
    def sentence_scores(self, sentences: Sequence[str]) -> list[float]:
        """Total ``ln P`` of each sentence (eos included), one full forward per sentence, batched."""
        sequences = []
        for sentence in sentences:
            ids = [self.bos_id]
            for k, word in enumerate(sentence.split()):
                ids.extend(self.word_tokens(word, first=k == 0))
            sequences.append(ids + [self.eos_id])
        scores = [0.0] * len(sequences)
        too_long = [i for i, s in enumerate(sequences) if len(s) - 1 > self.max_positions]
        if too_long:  # longer than the model's context: word by word, on a sliding window
            long_scores = sentence_scores_by_words(self, [sentences[i] for i in too_long])
            for i, score in zip(too_long, long_scores, strict=True):
                scores[i] = score
        fits = [i for i, s in enumerate(sequences) if len(s) - 1 <= self.max_positions]
        fits.sort(key=lambda i: len(sequences[i]))
        for start in range(0, len(fits), self.batch_size):
            chunk = fits[start : start + self.batch_size]
            inputs = [sequences[i][:-1] for i in chunk]
            longest = max(len(x) for x in inputs)
            ids = torch.full((len(chunk), longest), self.eos_id, dtype=torch.long)  # (B, T)
            targets = torch.full((len(chunk), longest), -100, dtype=torch.long)  # (B, T)
            for row, i in enumerate(chunk):
                n = len(sequences[i]) - 1
                ids[row, :n] = torch.tensor(sequences[i][:-1])
                targets[row, :n] = torch.tensor(sequences[i][1:])
            real = (targets >= 0).to(self.device)  # (B, T)
            logits = self.model(input_ids=ids.to(self.device), attention_mask=real.long()).logits
            logp = torch.log_softmax(logits.float(), dim=-1)  # (B, T, V)
            picked = logp.gather(
                -1, targets.clamp(min=0).to(self.device).unsqueeze(-1)
            )  # (B, T, 1)
            totals = (picked.squeeze(-1) * real).sum(dim=1).cpu()  # (B,)
            for row, i in enumerate(chunk):
                scores[i] = float(totals[row])
        return scores

    # ---- tokens -------------------------------------------------------------------------------
    def word_tokens(self, word: str, first: bool) -> tuple[int, ...]:
        """Token ids of ``word``: as the first word of a sentence, or after a space."""
        key = (word, first)
        tokens = self._tokens.get(key)
        if tokens is None:
            text = word if first else " " + word
            tokens = tuple(self.tokenizer.encode(text, add_special_tokens=False))
            if not tokens:
                raise ValueError(f"the word {word!r} has no tokens in this LM's tokenizer")
            self._tokens[key] = tokens
        return tokens

    # ---- next-token distributions -----------------------------------------------------------
    def _distributions(self, prefixes: set[tuple[int, ...]]) -> dict[tuple[int, ...], torch.Tensor]:
        """``ln P(. | prefix)`` rows ``(V,)`` for every prefix, computing the missing ones in batches."""
        rows = {}
        missing = []
        for prefix in prefixes:
            row = self._dist.get_hit(prefix)
            if row is None:
                missing.append(prefix)
            else:
                rows[prefix] = row
        jobs = self._plan(missing)
        jobs.sort(key=lambda j: (j.past_len, len(j.tokens)))  # similar shapes share a batch
        for start in range(0, len(jobs), self.batch_size):
            for prefix, row in self._run(jobs[start : start + self.batch_size]).items():
                self._dist.put(prefix, row)
                rows[prefix] = row
        return rows

    def _plan(self, missing: list[tuple[int, ...]]) -> list[_Job]:
        """Group missing prefixes into forward rows: a prefix of a longer missing one comes free."""
        missing_set = set(missing)
        covered: set[tuple[int, ...]] = set()
        jobs = []
        for seq in sorted(missing, key=len, reverse=True):
            if seq in covered:
                continue
            if len(seq) > self.max_positions:  # beyond the context: the last tokens only, no reuse
                window = seq[-self.max_positions :]
                jobs.append(_Job(tokens=window, outputs=[(seq, len(window) - 1)]))
                covered.add(seq)
                continue
            lengths = []
            for k in range(1, len(seq) + 1):
                part = seq[:k]
                if part in missing_set and part not in covered:
                    covered.add(part)
                    lengths.append(k)
            past_len, past = 0, None
            if self.kv_cache:
                for k in range(lengths[0] - 1, 0, -1):  # the longest prefix with cached keys/values
                    past = self._kv.get_hit(seq[:k])
                    if past is not None:
                        past_len = k
                        break
            job = _Job(tokens=seq[past_len:], past_len=past_len, past=past)
            job.outputs = [(seq[:k], k - 1 - past_len) for k in lengths]
            if self.kv_cache:
                job.kv_keys = [(seq[:k], k) for k in lengths]
            jobs.append(job)
        return jobs

    def _run(self, jobs: list[_Job]) -> dict[tuple[int, ...], torch.Tensor]:
        """One forward over ``jobs``: past keys/values left-padded, new tokens right-padded."""
        batch = len(jobs)
        past_lens = [j.past_len for j in jobs]
        new_lens = [len(j.tokens) for j in jobs]
        big_k, big_n = max(past_lens), max(new_lens)
        ids = torch.full((batch, big_n), self.eos_id, dtype=torch.long)  # (B, N)
        mask = torch.zeros(batch, big_k + big_n, dtype=torch.long)  # (B, K + N)
        positions = torch.zeros(batch, big_n, dtype=torch.long)  # (B, N)
        for row, job in enumerate(jobs):
            k, n = past_lens[row], new_lens[row]
            ids[row, :n] = torch.tensor(job.tokens)
            mask[row, big_k - k : big_k + n] = 1
            positions[row] = torch.clamp(torch.arange(k, k + big_n), max=self.max_positions - 1)
        past = None
        if big_k > 0:
            past = _make_cache(_left_pad([j.past for j in jobs], past_lens, big_k))
        out = self.model(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            past_key_values=past,
            use_cache=self.kv_cache,
        )
        logits = out.logits  # (B, N, V)
        rows = {}
        for row, job in enumerate(jobs):
            where = torch.tensor([index for _, index in job.outputs], device=logits.device)
            logp = torch.log_softmax(logits[row, where].float(), dim=-1).cpu()  # (n_out, V)
            for (prefix, _), values in zip(job.outputs, logp, strict=True):
                rows[prefix] = values
        if self.kv_cache and out.past_key_values is not None:
            layers = _cache_tensors(out.past_key_values)  # per layer (B, H, K + N, D)
            for row, job in enumerate(jobs):
                k, n = past_lens[row], new_lens[row]
                full = [
                    (
                        key[row, :, big_k - k : big_k + n].clone(),
                        v[row, :, big_k - k : big_k + n].clone(),
                    )
                    for key, v in layers
                ]  # per layer (H, k + n, D), its own memory; the prefixes below are views of it
                for prefix, length in job.kv_keys:
                    self._kv.put(prefix, [(key[:, :length], v[:, :length]) for key, v in full])
        return rows


def _left_pad(per_job: list, past_lens: list[int], big_k: int) -> list:
    """Stack per-job keys/values ``(H, k, D)`` into ``(B, H, K, D)``, left-padded with zeros."""
    template = next(kv for kv in per_job if kv is not None)
    layers = []
    for layer, (key0, _) in enumerate(template):
        shape = (len(per_job), key0.shape[0], big_k, key0.shape[2])
        keys = torch.zeros(shape, dtype=key0.dtype, device=key0.device)
        values = torch.zeros_like(keys)
        for row, kv in enumerate(per_job):
            if kv is not None:
                k = past_lens[row]
                keys[row, :, big_k - k :] = kv[layer][0]
                values[row, :, big_k - k :] = kv[layer][1]
        layers.append((keys, values))
    return layers


def _make_cache(layers: list[tuple[torch.Tensor, torch.Tensor]]):
    """A ``DynamicCache`` holding per-layer ``(keys, values)`` (transformers 4.x and 5.x)."""
    from transformers import DynamicCache

    if hasattr(DynamicCache, "from_legacy_cache"):
        return DynamicCache.from_legacy_cache(tuple(layers))
    return DynamicCache(ddp_cache_data=layers)


def _cache_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer ``(keys, values)`` of a model's returned cache (transformers 4.x and 5.x)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache, strict=True))
    return [(key, value) for key, value, *_ in cache]
