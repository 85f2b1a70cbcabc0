"""Sharded, streamed corpora: `seqlab data shard` writes a LibriSpeech-layout tree as WebDataset
tar shards; `data.format=shards` trains from them over HTTP (a loopback server started here),
each item read once per epoch across ranks and loader workers, and resumes exactly mid-epoch."""

import functools
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from seqlab.audio.io import load_audio
from seqlab.cli import main
from seqlab.data.librispeech import scan_librispeech
from seqlab.data.shard_io import ShardError, iter_samples, read_index
from seqlab.data.shard_stream import Shard, ShardItem, ShardStream
from seqlab.engine.task import DataSpec
from tiny_experiments import MODEL, RUN, _save_and_resume

SUBSETS = ("train-clean-100", "dev-clean", "test-clean")


@pytest.fixture(scope="module")
def sharded(librispeech_dir, tmp_path_factory) -> Path:
    """The hand-written LibriSpeech directory as shards of 3 items, written by the CLI."""
    out = tmp_path_factory.mktemp("shards")
    assert main(["data", "shard", str(librispeech_dir), str(out), "--shard-size", "3"]) == 0
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test's output stays readable
        pass


@pytest.fixture(scope="module")
def server(sharded):
    """A threading HTTP server on 127.0.0.1 (a free port) serving the shard directory."""
    handler = functools.partial(_QuietHandler, directory=str(sharded))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_shards_hold_the_trees_items_byte_for_byte(librispeech_dir, sharded, tmp_path):
    for subset in SUBSETS:
        tree = {item.id: item for item in scan_librispeech(librispeech_dir, [subset])}
        index = read_index(str(sharded / subset / "index.json"))
        found = {}
        for shard in index["shards"]:
            for key, fields in iter_samples(shard["url"], shard["sha256"]):
                found[key] = fields
        on_disk = {i: it for i, it in tree.items() if Path(it.audio_path).is_file()}
        assert sorted(found) == sorted(on_disk)
        assert index["n_items"] == len(on_disk)
        for item_id, item in on_disk.items():
            meta = json.loads(found[item_id]["json"])
            assert found[item_id]["flac"] == Path(item.audio_path).read_bytes()
            assert meta["text"] == item.raw_text
            assert meta["duration"] == pytest.approx(sf.info(item.audio_path).duration)
        durations = {
            i: d for s in index["shards"] for i, d in zip(s["ids"], s["durations"], strict=True)
        }
        assert durations == pytest.approx(
            {i: sf.info(on_disk[i].audio_path).duration for i in on_disk}
        )
    # the transcript line whose audio is missing is reported, not sharded
    left_out = read_index(str(sharded / "test-clean" / "index.json"))["left_out"]
    assert [(b["id"], b["reason"], b["text"]) for b in left_out] == [
        ("61-70968-0099", "missing_file", "THIS FILE IS MISSING")
    ]
    assert "61-70968-0099" in (sharded / "test-clean" / "bad_items.jsonl").read_text()
    # the same input gives the same bytes (no time stamps in the tar headers)
    again = tmp_path / "again"
    assert main(["data", "shard", str(librispeech_dir), str(again), "--shard-size", "3"]) == 0
    for path in sharded.glob("*/*.tar"):
        copy = again / path.parent.name / path.name
        assert (
            hashlib.sha256(copy.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()
        )


def test_the_webdataset_package_reads_our_shards(sharded):
    wds = pytest.importorskip("webdataset")
    index = read_index(str(sharded / "train-clean-100" / "index.json"))
    urls = [s["url"] for s in index["shards"]]
    keys = [sample["__key__"] for sample in wds.WebDataset(urls, shardshuffle=False)]
    assert keys == [k for s in index["shards"] for k in s["keys"]]


def _fake_stream(rank: int, world: int, workers: int, shuffle: bool = True, epoch: int = 0):
    """A stream over 13 shards of uneven sizes (metadata only: planning reads no audio)."""
    rng = np.random.default_rng(0)
    shards, items = [], []
    for s, size in enumerate([7, 3, 12, 5, 9, 1, 8, 6, 4, 11, 2, 10, 7]):
        keys = tuple(f"s{s}-{i}" for i in range(size))
        shards.append(Shard(f"http://unused/{s}.tar", None, keys))
        items += [ShardItem(s, k, k, "a", float(rng.uniform(0.5, 4.0)), (1,)) for k in keys]
    stream = ShardStream(shards, items, 16000, max_batch_seconds=9.0, num_buckets=4, buffer_size=10,
                         shuffle=shuffle, seed=5, num_replicas=world, rank=rank, num_workers=workers)  # fmt: skip
    stream.set_epoch(epoch)
    return stream


@pytest.mark.parametrize("world,workers", [(1, 0), (1, 3), (2, 2), (3, 1), (4, 3)])
def test_ranks_and_workers_read_disjoint_shards_and_cover_the_corpus(world, workers):
    n_items = len(_fake_stream(0, 1, 0).items)
    seen, lengths, planned = [], [], set()
    for rank in range(world):
        plan = _fake_stream(rank, world, workers).plan()
        shard_sets = [set(s) for s in plan["shards"]]
        assert all(not (a & b) for i, a in enumerate(shard_sets) for b in shard_sets[i + 1 :])
        lengths.append(len(plan["order"]))
        seen += [i for w, j in plan["order"] for i in plan["batches"][w][j]]
        planned |= {i for batches in plan["batches"] for b in batches for i in b}
    assert len(set(lengths)) == 1  # every rank takes the same number of batches
    assert len(seen) == len(set(seen))  # no item twice in an epoch across ranks x workers
    assert planned == set(range(n_items))  # every item is planned; only the batches past N are left
    assert len(seen) > 0.6 * n_items  # ... out (a few batches per epoch, other ones each epoch)
    # validation: nothing left out (the shorter ranks repeat a batch instead)
    covered = set()
    for rank in range(world):
        plan = _fake_stream(rank, world, workers, shuffle=False).plan()
        covered |= {i for w, j in plan["order"] for i in plan["batches"][w][j]}
    assert covered == set(range(n_items))
    # the plan is a function of (seed, epoch): another epoch, another order; the same, the same
    assert _fake_stream(0, world, workers, epoch=1).plan() != _fake_stream(0, world, workers).plan()
    assert (
        _fake_stream(0, world, workers, epoch=1).plan()
        == _fake_stream(0, world, workers, epoch=1).plan()
    )


def _ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def _train_stream(
    sharded_url: str, workers: int, shard_urls: dict | None = None, world: int = 1, rank: int = 0
) -> ShardStream:
    index = read_index(f"{sharded_url}/train-clean-100/index.json")
    shards, items = [], []
    for s, shard in enumerate(index["shards"]):
        url = (shard_urls or {}).get(s, shard["url"])
        shards.append(Shard(url, shard["sha256"], tuple(shard["keys"])))
        fields = zip(shard["keys"], shard["ids"], shard["durations"], strict=True)
        items += [ShardItem(s, key, item_id, "x", d, (1,)) for key, item_id, d in fields]
    return ShardStream(
        shards, items, 16000, max_batch_seconds=5.0, num_buckets=2, buffer_size=4, seed=3,
        num_workers=workers, num_replicas=world, rank=rank,
    )  # fmt: skip


@pytest.mark.parametrize("workers", [0, 2])
def test_loader_yields_the_plan_and_resumes_at_any_batch(server, librispeech_dir, workers):
    stream = _train_stream(server, workers)
    spec = DataSpec(stream, stream, _ids, num_workers=workers)
    for epoch in (0, 1):
        stream.set_epoch(epoch)
        stream.set_start_batch(0)  # workers iterate copies: the start is set per loader
        full = list(spec.loader(99))  # the stream fixes its own number of workers
        plan = stream.plan()
        assert full == [
            [stream.items[i].id for i in plan["batches"][w][j]] for w, j in plan["order"]
        ]
        assert len(full) == len(stream) and len({i for b in full for i in b}) == 12
        for k in (1, 2, 3, len(full) - 1):  # odd k: the loader's workers are rotated
            stream.set_start_batch(k)
            assert list(spec.loader(99)) == full[k:], (epoch, k)
    # a sample for statistics (features.normalize: global): the first items in index order
    sample = stream.sample_items(4)
    assert [it["id"] for it in sample] == [it.id for it in stream.items[:4]]
    # what the stream decodes is what the tree holds
    first = next(iter(DataSpec(stream, stream, list, num_workers=workers).loader(0)))[0]
    path = next(librispeech_dir.glob(f"train-clean-100/*/*/{first['id']}.flac"))
    np.testing.assert_array_equal(first["audio"].numpy(), load_audio(path, 16000))


def test_two_ranks_with_two_workers_each_read_each_item_once(server):
    """What the loaders of 2 ranks x 2 workers really read over HTTP in an epoch: as many batches
    on each rank, no item twice, and every item but those of the batches past the shorter rank."""
    batches, got = [], []
    for rank in (0, 1):
        stream = _train_stream(server, 2, world=2, rank=rank)
        batches.append(list(DataSpec(stream, stream, _ids, num_workers=2).loader(0)))
        got.append([i for batch in batches[rank] for i in batch])
        assert len(got[rank]) == len(set(got[rank]))
    assert len(batches[0]) == len(batches[1]) > 0
    assert not set(got[0]) & set(got[1])
    assert (
        len(set(got[0]) | set(got[1])) >= 8
    )  # of 12: at most a batch or two past the shorter rank


def test_a_missing_corrupt_or_changed_shard_is_named(server, sharded, tmp_path):
    original = sharded / "train-clean-100" / "shard-000001.tar"
    data = original.read_bytes()
    truncated = tmp_path / "truncated.tar"
    truncated.write_bytes(data[: len(data) // 2])
    changed = tmp_path / "changed.tar"  # a byte of the end padding: every member still reads
    changed.write_bytes(data[:-1] + b"\x01")
    cases = {
        f"{server}/train-clean-100/no-such-shard.tar": "HTTP 404",
        str(truncated): "corrupt or was cut short",
        str(changed): "sha256",
    }
    for url, what in cases.items():
        stream = _train_stream(server, 0, shard_urls={1: url})
        with pytest.raises(ShardError, match=what) as err:
            for _ in stream:
                pass
        assert url in str(err.value)
    other = tmp_path / "other.json"
    other.write_text("{}")
    with pytest.raises(ShardError, match="not a seqlab shard index"):
        read_index(str(other))


def test_train_from_http_resume_exactly_and_eval(server, tmp_path):
    """A tiny Conformer trains 4 steps from shards served over HTTP by 2 loader workers, resumes
    from step 2 as after a crash, and gives the same losses and weights; `seqlab eval` then
    scores the test shards, the item left out when sharding counted as an error."""
    runs = tmp_path / "runs"
    run_opts = [o for o in RUN if not o.startswith("trainer.num_workers")]
    overrides = [
        *run_opts, *MODEL["conformer_ctc"], "writer=jsonl", f"trainer.runs_root={runs}",
        "trainer.run_name=shards", "trainer.num_workers=2", "data.format=shards",
        f"data.root={server}", "data.train=[train-clean-100]", "data.val=[dev-clean]",
        "data.test=[test-clean]", "data.max_batch_seconds=5", "data.num_buckets=2",
        "data.shuffle_buffer=4",
    ]  # fmt: skip
    got = _save_and_resume("asr_conformer", overrides, runs / "asr_conformer" / "shards")
    assert got["resume_events"] == [2] and got["rerun_train_steps"] == [3, 4]
    assert got["resumed"] == got["uninterrupted"]
    assert got["weights_resumed"] == got["weights_uninterrupted"]
    assert np.isfinite(got["uninterrupted"]["val/4"]["val_wer"])
    out = tmp_path / "eval.json"
    checkpoint = runs / "asr_conformer" / "shards" / "checkpoints" / "last"
    assert main(["eval", str(checkpoint), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["n_items"] == 4 and result["left_out"]["reasons"] == {"missing_file": 1}


def test_too_few_shards_for_ranks_and_workers_says_what_to_do():
    with pytest.raises(ValueError, match="--shard-size"):
        _fake_stream(0, 4, 4)


def test_cli_rejects_a_directory_without_subsets(tmp_path, capsys):
    assert main(["data", "shard", str(tmp_path), str(tmp_path / "out")]) == 1
    assert "no LibriSpeech-layout subsets" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_shard_items_get_the_index_checks_without_reading_audio(tmp_path):
    from seqlab.data.shard_split import ShardSplit, shard_utterances
    from seqlab.text.vocab import build_vocab

    split = ShardSplit(
        shards=[Shard("http://unused/0.tar", None, ("a", "b", "c", "d", "e"))],
        entries=[
            (0, "a", "u1", "HELLO WORLD", 1.5, 16000),
            (0, "b", "u1", "HELLO AGAIN", 1.5, 16000),  # the same id twice
            (0, "c", "u3", "  ", 1.0, 16000),  # nothing left after normalisation
            (0, "d", "u4", "FAR TOO LONG", 30.0, 16000),
            (0, "e", "u5", "OK", 1.0, 22050),
        ],
        left_out=[{"id": "u6", "reason": "missing_file", "detail": "-", "text": "X", "where": "i"}],
    )
    bad_path = tmp_path / "bad_items.jsonl"
    good, bad = shard_utterances(split, build_vocab("char"), max_duration=20.0,
                                 bad_items_path=bad_path, split_name="train")  # fmt: skip
    assert [(u.id, u.text, u.audio_path, u.sample_rate) for u in good] == [
        ("u1", "hello world", "http://unused/0.tar#a", 16000),
        ("u5", "ok", "http://unused/0.tar#e", 22050),
    ]
    assert [(b.id, b.reason) for b in bad] == [
        ("u6", "missing_file"), ("u1", "duplicate_id"), ("u3", "empty_transcript"),
        ("u4", "too_long"),
    ]  # fmt: skip
    assert len(bad_path.read_text().splitlines()) == 4


@pytest.mark.parametrize("name", ["../train-clean-100/shard-000000.tar", "/etc/hostname", "http://elsewhere/a.tar", "sub/shard.tar", ""])  # fmt: skip
def test_an_index_naming_a_shard_outside_its_directory_is_refused(sharded, tmp_path, name):
    index = json.loads((sharded / "dev-clean" / "index.json").read_text())
    planted = tmp_path / "index.json"
    planted.write_text(json.dumps(index))
    assert read_index(str(planted))["shards"][0]["url"] == str(tmp_path / index["shards"][0]["url"])
    index["shards"][0]["url"] = name
    planted.write_text(json.dumps(index))
    with pytest.raises(ShardError, match="not a file name in the index's directory") as err:
        read_index(str(planted))
    assert str(planted) in str(err.value)
