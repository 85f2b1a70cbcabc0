"""One split of a sharded corpus as a task reads it: its shards and items from the ``index.json``
of each subset, the index's checks applied to the facts the index holds (no audio is read), and
the items to stream (:class:`seqlab.data.shard_stream.ShardItem`).

``data.format: shards`` with ``data.root`` a directory or URL that holds ``<subset>/index.json``
(what ``seqlab data shard`` writes); a split entry may also be an index's own path or URL
(``.../index.json``), e.g. on another server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.data.index import BadItem, Utterance, check_transcript, write_bad_items
from seqlab.data.shard_io import INDEX_NAME, join_location, read_index
from seqlab.data.shard_stream import Shard, ShardItem
from seqlab.text.normalize import normalize_text


@dataclass
class ShardSplit:
    """The shards of a split and what their indexes say."""

    shards: list[Shard] = field(default_factory=list)
    # (shard number, key, id, raw transcript, seconds, sample rate) per item, in index order
    entries: list[tuple[int, str, str, str, float, int]] = field(default_factory=list)
    # items the shard writer left out (missing or bad audio): id, reason, detail, text, where
    left_out: list[dict] = field(default_factory=list)

    def location(self, shard: int, key: str) -> str:
        """``<shard url>#<key>``: an item's "path" in batches, eval rows and bad-item lists."""
        return f"{self.shards[shard].url}#{key}"

    def raw_items(self) -> list[tuple[str, str, str, float | None]]:
        """``(id, location, raw transcript, seconds)`` of every item, left-out ones included, as a
        tree's scanner lists them (the vocabulary is built from these transcripts)."""
        found = [(i, self.location(s, key), text, sec) for s, key, i, text, sec, _ in self.entries]
        return found + [(b["id"], b["where"], b["text"], None) for b in self.left_out]


def read_shard_split(root: str, names: Sequence[str]) -> ShardSplit:
    """The shards of subsets ``names`` under ``root`` (a path or URL), in order."""
    split = ShardSplit()
    for name in names:
        name = str(name)
        where = name if name.endswith(".json") else join_location(name, INDEX_NAME)
        location = join_location(str(root), where)
        index = read_index(location)
        split.left_out += [
            {**b, "where": f"{location} (left out when sharding)"}
            for b in index.get("left_out", [])
        ]
        for shard in index["shards"]:
            number = len(split.shards)
            split.shards.append(Shard(shard["url"], shard.get("sha256"), tuple(shard["keys"])))
            fields = zip(
                shard["keys"], shard["ids"], shard["texts"], shard["durations"],
                shard["sample_rates"], strict=True,
            )  # fmt: skip
            split.entries += [(number, *f) for f in fields]
    return split


def shard_utterances(
    split: ShardSplit,
    vocab,
    normalize: Callable[[str], str] = normalize_text,
    min_frames_fn: Callable[[float], int] | None = None,
    max_duration: float | None = None,
    bad_items_path: str | Path | None = None,
    split_name: str | None = None,
) -> tuple[list[Utterance], list[BadItem]]:
    """The good items of ``split`` as :class:`Utterance` records (``audio_path`` is the item's
    location) and the bad ones: those left out when sharding, duplicate ids, and the
    transcript checks of :func:`seqlab.data.index.check_transcript` on the index's durations.
    Bad items are appended to ``bad_items_path`` when given."""
    utterances: list[Utterance] = []
    bad = [BadItem(b["id"], b["where"], b["reason"], b["detail"]) for b in split.left_out]
    seen: set[str] = set()
    for s, key, item_id, raw_text, duration, rate in split.entries:
        location = split.location(s, key)
        if item_id in seen:
            detail = f"id {item_id!r} was already used by an earlier item"
            bad.append(BadItem(item_id, location, "duplicate_id", detail))
            continue
        seen.add(item_id)
        text, problem = check_transcript(
            raw_text, duration, vocab, normalize, min_frames_fn, max_duration
        )
        if problem is not None:
            bad.append(BadItem(item_id, location, *problem))
            continue
        utterances.append(Utterance(item_id, location, text, duration, int(rate)))
    if bad and bad_items_path is not None:
        write_bad_items(bad, bad_items_path, split_name)
    return utterances, bad


def shard_items(split: ShardSplit, utterances: Sequence[Utterance], vocab) -> list[ShardItem]:
    """The items to stream for ``utterances`` (a subset of the split's good ones)."""
    where = {split.location(s, key): (s, key) for s, key, *_ in split.entries}
    return [
        ShardItem(*where[u.audio_path], u.id, u.text, u.duration, tuple(vocab.encode(u.text)))
        for u in utterances
    ]
