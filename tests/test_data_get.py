"""`seqlab data get` against a loopback HTTP server serving tiny archives in each corpus's real layout.

The server (127.0.0.1, port 0, a thread in this process) counts requests, can drop a connection
after N bytes once, and can ignore Range headers. The catalogue's real hosts are never contacted:
every fetch goes through ``--mirror`` (or ``$SEQLAB_DATA_MIRROR``) to it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from omegaconf import OmegaConf

from seqlab.cli import main
from seqlab.config import load_group_option
from seqlab.data import catalogue
from seqlab.data.corpus_get import ensure_corpus, get
from seqlab.data.download import DownloadError, UnsafeArchiveError, extract, mirrored

# ----------------------------------------------------------------------------- fixture archives


def _wav_bytes(rate: int, seconds: float, fmt: str = "WAV", seed: int = 0) -> bytes:
    audio = 0.1 * np.random.default_rng(seed).standard_normal(int(rate * seconds))
    buf = io.BytesIO()
    sf.write(buf, audio.astype(np.float32), rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def _tar(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _librispeech_tar(subset: str) -> bytes:
    files = {
        f"LibriSpeech/{subset}/19/198/19-198.trans.txt": b"19-198-0000 HELLO\n19-198-0001 WORLD\n"
    }
    for i in range(2):
        files[f"LibriSpeech/{subset}/19/198/19-198-000{i}.flac"] = _wav_bytes(16000, 0.3, "FLAC", i)
    files["LibriSpeech/README.TXT"] = b"tiny LibriSpeech\n"
    return _tar(files)


MULTI30K = {
    "train": (["Ein Mann läuft.", "Zwei Hunde."], ["A man runs.", "Two dogs."]),
    "val": (["Eine Frau."], ["A woman."]),
    "test_2016_flickr": (["Ein Kind spielt."], ["A child plays."]),
}
SLR54_ROWS = [(f"{u}{i:04d}", spk, f"पाठ {i}") for u, spk in (("0a", "s1"), ("0b", "s2"), ("1a", "s3"), ("1b", "s4")) for i in range(3)]  # fmt: skip


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    """Upstream URL paths -> bytes of tiny archives in each real layout."""
    out = {
        "/resources/12/dev-clean.tar.gz": _librispeech_tar("dev-clean"),
        "/resources/12/test-clean.tar.gz": _librispeech_tar("test-clean"),
    }
    lj = {"LJSpeech-1.1/metadata.csv": b"LJ001-0001|Hi 1.|Hi one.\nLJ001-0002|Yes.|Yes.\n"}
    for i in (1, 2):
        lj[f"LJSpeech-1.1/wavs/LJ001-000{i}.wav"] = _wav_bytes(22050, 0.2, seed=i)
    out["/data/speech/LJSpeech-1.1.tar.bz2"] = _tar(lj, "w:bz2")
    for stem, (de, en) in MULTI30K.items():
        for lang, lines in (("de", de), ("en", en)):
            out[f"/multi30k/dataset/master/data/task1/raw/{stem}.{lang}.gz"] = gzip.compress(
                "".join(f"{line}\n" for line in lines).encode()
            )
    fsdd = {f"free-spoken-digit-dataset-master/recordings/{d}_{s}_{t}.wav": _wav_bytes(8000, 0.2, seed=d * 10 + t) for d in range(2) for s in ("ann", "bob") for t in range(6)}  # fmt: skip
    fsdd["free-spoken-digit-dataset-master/README.md"] = b"FSDD\n"
    out["/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.tar.gz"] = _tar(fsdd)
    tsv = "".join("\t".join(row) + "\n" for row in SLR54_ROWS).encode()
    out["/resources/54/utt_spk_text.tsv"] = tsv
    for shard in "01":
        members = {"asr_nepali/utt_spk_text.tsv": tsv}
        for utt, _, _ in SLR54_ROWS:
            if utt.startswith(shard):
                members[f"asr_nepali/data/{utt[:2]}/{utt}.flac"] = _wav_bytes(16000, 0.2, "FLAC")
        out[f"/resources/54/asr_nepali_{shard}.zip"] = _zip(members)
    return out


@pytest.fixture
def checksums(files, monkeypatch):
    """The catalogue's published checksums, replaced by those of the fixture archives."""
    md5 = {
        name: (hashlib.md5(files[f"/resources/12/{name}.tar.gz"]).hexdigest(), 1000)
        for name in ("dev-clean", "test-clean")
    }
    monkeypatch.setattr(catalogue, "LIBRISPEECH_SUBSETS", md5)
    lj = files["/data/speech/LJSpeech-1.1.tar.bz2"]
    monkeypatch.setattr(catalogue, "LJSPEECH_SHA256", hashlib.sha256(lj).hexdigest())
    monkeypatch.setattr(catalogue, "LJSPEECH_BYTES", len(lj))
    sums = {
        path.rsplit("/", 1)[1]: hashlib.sha256(data).hexdigest()
        for path, data in files.items()
        if "/task1/raw/" in path
    }
    monkeypatch.setattr(catalogue, "MULTI30K_SHA256", sums)


class Server:
    """A loopback file server; ``requests`` lists ``(path, Range header)`` of every GET."""

    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.requests: list[tuple[str, str | None]] = []
        self.drop_once: dict[str, int] = {}  # path -> bytes sent before closing, first time only
        self.ignore_range = False
        self.etag: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest's output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if_range = self.headers.get("If-Range")
                if if_range is not None and if_range != server.etag:
                    rng = None  # RFC 9110: the file changed, send all of it
                if rng and not server.ignore_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                if server.etag:
                    self.send_header("ETag", server.etag)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                cut = server.drop_once.pop(self.path, None)
                self.wfile.write(data[start:cut] if cut is not None else data[start:])
                if cut is not None:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def gets(self, suffix: str) -> list[str | None]:
        """Range headers of the requests for paths ending in ``suffix``."""
        return [rng for path, rng in self.requests if path.endswith(suffix)]


@pytest.fixture
def server(files):
    srv = Server(files)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _get(name, directory, server, **kw):
    return get(name, directory, mirror=server.url, backoff=0.0, progress=False, **kw)


# ----------------------------------------------------------------------------- the tests


def test_dropped_connection_resumes_with_range_and_the_subset_loads(tmp_path, server, checksums):
    from seqlab.data.index import build_index
    from seqlab.data.librispeech import scan_librispeech
    from seqlab.text.vocab import build_vocab

    size = len(server.files["/resources/12/dev-clean.tar.gz"])
    server.drop_once["/resources/12/dev-clean.tar.gz"] = size // 3
    summary = _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert server.gets("dev-clean.tar.gz") == [
        None,
        f"bytes={size // 3}-",
    ]  # resumed, not restarted
    assert summary["root"] == str(tmp_path / "LibriSpeech") and summary["fetched"] == ["dev-clean"]
    items = scan_librispeech(tmp_path / "LibriSpeech", ["dev-clean"])
    assert [(i.id, i.raw_text) for i in items] == [
        ("19-198-0000", "HELLO"),
        ("19-198-0001", "WORLD"),
    ]
    assert all(Path(i.audio_path).is_file() and str(i.audio_path).endswith(".flac") for i in items)
    index = build_index(items, None, build_vocab("char"), verify_audio=True)  # the ASR index
    assert len(index.utterances) == 2 and not index.bad
    marker = json.loads((tmp_path / ".seqlab-get/librispeech.dev-clean.done").read_text())
    assert marker["checked"] == ["md5"]
    assert not list((tmp_path / ".seqlab-get/downloads").iterdir())  # the archive's space is back
    assert not list(tmp_path.glob(".tmp-*"))


def test_server_ignoring_range_restarts_from_zero(tmp_path, server, checksums):
    server.ignore_range = True
    server.drop_once["/resources/12/dev-clean.tar.gz"] = 100
    _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert server.gets("dev-clean.tar.gz") == [None, "bytes=100-"]  # answered 200: rewritten whole
    assert (tmp_path / "LibriSpeech/dev-clean/19/198/19-198-0001.flac").is_file()


def test_a_file_changed_upstream_between_attempts_is_fetched_whole(tmp_path, server, checksums):
    path = "/resources/12/dev-clean.tar.gz"
    current = server.files[path]
    server.files[path] = b"an older version of the archive" * 100
    server.etag, server.drop_once[path] = '"v1"', 100
    with pytest.raises(DownloadError, match="giving up"):
        get("librispeech", tmp_path, subsets=["dev-clean"], mirror=server.url, retries=0)
    server.files[path], server.etag = current, '"v2"'  # the new version is out before the resume
    _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert server.requests[-1] == (path, "bytes=100-")  # asked to resume ...
    assert (tmp_path / "LibriSpeech/dev-clean").is_dir()  # ... got the whole new file: md5 right


def test_rerun_fetches_nothing_and_parallel_subsets(tmp_path, server, checksums):
    _get("librispeech", tmp_path, server, subsets=["dev-clean", "test-clean"], jobs=2)
    assert len(server.requests) == 2
    assert {p.name for p in (tmp_path / "LibriSpeech").iterdir()} == {
        "dev-clean",
        "test-clean",
        "README.TXT",
    }
    again = _get("librispeech", tmp_path, server, subsets=["dev-clean", "test-clean"], jobs=2)
    assert len(server.requests) == 2  # nothing downloaded (or unpacked) twice
    assert again["fetched"] == [] and again["already"] == ["dev-clean", "test-clean"]


def test_checksum_mismatch_deletes_the_download_and_installs_nothing(tmp_path, server, checksums):
    server.files["/resources/12/dev-clean.tar.gz"] = _librispeech_tar("dev-clean") + b"x"
    with pytest.raises(DownloadError, match=r"md5 is [0-9a-f]{32}, the host publishes") as err:
        _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert "dev-clean.tar.gz" in str(err.value) and "run the command again" in str(err.value)
    assert not (tmp_path / "LibriSpeech").exists()
    assert not list((tmp_path / ".seqlab-get").glob("*.done"))
    assert not list((tmp_path / ".seqlab-get/downloads").iterdir())  # no .part to resume from


def test_corrupted_archive_leaves_nothing_half_extracted(tmp_path, server):
    path = "/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.tar.gz"
    whole = server.files[path]
    raw = gzip.decompress(whole)
    server.files[path] = gzip.compress(raw[: len(raw) * 2 // 3])  # a tar cut mid-member
    with pytest.raises(DownloadError, match="damaged") as err:
        _get("fsdd", tmp_path, server)
    assert "nothing of free-spoken-digit-dataset was installed" in str(err.value)
    assert not (tmp_path / "recordings").exists() and not list(tmp_path.glob(".tmp-*"))
    assert not list((tmp_path / ".seqlab-get").glob("*.done"))
    server.files[path] = whole  # the host is fixed: the same command now completes
    summary = _get("fsdd", tmp_path, server)
    assert len(list((tmp_path / "recordings").glob("*.wav"))) == 24
    assert summary["finish"]["test.jsonl"] == 20  # seqlab.data.fsdd.write_manifests ran: takes 0-4


def test_a_run_killed_before_the_rename_leaves_no_corpus_and_is_redone(
    tmp_path, server, checksums, monkeypatch
):
    import seqlab.data.catalogue as cat

    def killed(src, dst):  # unpacked into .tmp-..., then the process dies
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cat, "merge_into", killed)
        with pytest.raises(KeyboardInterrupt):
            _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert (tmp_path / ".tmp-librispeech-dev-clean/LibriSpeech/dev-clean").is_dir()
    assert not (tmp_path / "LibriSpeech").exists()  # nothing under the final names
    assert not list((tmp_path / ".seqlab-get").glob("*.done"))
    _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert (tmp_path / "LibriSpeech/dev-clean/19/198/19-198.trans.txt").is_file()
    assert not list(tmp_path.glob(".tmp-*"))
    assert (
        len(server.gets("dev-clean.tar.gz")) == 1
    )  # the verified archive was kept, not fetched again


def test_404_names_the_url(tmp_path, server, checksums):
    with pytest.raises(DownloadError, match="HTTP 404") as err:
        _get("multi30k", tmp_path, server, subsets=["test2018"])
    assert f"{server.url}/multi30k/dataset/master/data/task1/raw/test_2018_flickr.de.gz" in str(
        err.value
    )
    assert len(server.requests) == 1  # a 404 is not retried


@pytest.mark.parametrize(
    "member,link",
    [("../evil.txt", None), ("/tmp/evil.txt", None), ("ok/link", "../../evil.txt"), ("l", "/etc")],
)
def test_tar_slip_members_are_refused(tmp_path, member, link):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        good = tarfile.TarInfo("ok/fine.txt")
        good.size = 2
        tf.addfile(good, io.BytesIO(b"ok"))
        info = tarfile.TarInfo(member)
        if link:
            info.type, info.linkname = tarfile.SYMTYPE, link
            tf.addfile(info)
        else:
            info.size = 4
            tf.addfile(info, io.BytesIO(b"evil"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="refused"):
        extract(archive, tmp_path / "out" / ".tmp")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()


def test_zip_slip_is_refused_before_anything_is_written(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"asr/data/ok.txt": b"ok", "../evil.txt": b"evil"}))
    with pytest.raises(UnsafeArchiveError, match="'..'"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out/asr").exists()


def test_from_dir_multi30k_builds_the_parallel_layout(tmp_path, files, checksums):
    from seqlab.data.parallel import read_parallel

    src = tmp_path / "upstream"
    src.mkdir()
    for path, data in files.items():
        if "/task1/raw/" in path:
            (src / path.rsplit("/", 1)[1]).write_bytes(data)
    out = tmp_path / "multi30k"
    summary = get("multi30k", out, pair="de-en", from_dir=src, progress=False)
    # no explicit --subsets: the test years not in the folder are skipped and said so
    assert summary["fetched"] == ["train", "val", "test2016"]
    assert any("test2018 skipped" in note for note in summary["notes"])
    assert read_parallel(out, "train", "de", "en") == [
        ("Ein Mann läuft.", "A man runs."),
        ("Zwei Hunde.", "Two dogs."),
    ]
    assert read_parallel(out, "test2016", "de", "en") == [("Ein Kind spielt.", "A child plays.")]
    with pytest.raises(DownloadError, match="lacks test_2018_flickr.de.gz"):
        get("multi30k", out, subsets=["test2018"], from_dir=src, progress=False)


def test_multi30k_misaligned_pair_is_refused(tmp_path, files, checksums, monkeypatch):
    src = tmp_path / "upstream"
    src.mkdir()
    for path, data in files.items():
        if "/task1/raw/val." in path:
            (src / path.rsplit("/", 1)[1]).write_bytes(data)
    (src / "val.en.gz").write_bytes(gzip.compress(b"A woman.\nExtra line.\n"))
    monkeypatch.setattr(catalogue, "MULTI30K_SHA256", {})  # sizes unknown, checksums unknown
    with pytest.raises(DownloadError, match="val.de.gz has 1 lines but val.en.gz has 2"):
        get("multi30k", tmp_path / "m", subsets=["val"], from_dir=src, progress=False)
    assert not list((tmp_path / "m").glob("val.*"))


def test_mirror_with_a_path_prefix(tmp_path, files, checksums):
    url = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
    assert mirrored(url, "http://h:1/pre/") == "http://h:1/pre/data/speech/LJSpeech-1.1.tar.bz2"
    srv = Server({f"/pre{path}": data for path, data in files.items()})
    try:
        summary = get("ljspeech", tmp_path, mirror=srv.url + "/pre", progress=False)
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    from seqlab.data.ljspeech import read_metadata

    assert summary["root"] == str(tmp_path / "LJSpeech-1.1")
    assert [row[0] for row in read_metadata(summary["root"])] == ["LJ001-0001", "LJ001-0002"]


def test_openslr_shards_and_speaker_disjoint_splits(tmp_path, server):
    from seqlab.data.tsv_corpora import scan_openslr

    summary = _get("openslr", tmp_path, server, openslr_id=54, subsets=["utt_spk_text", "0", "1"])
    assert sum(summary["finish"].values()) == len(SLR54_ROWS)
    speakers = {}
    for split in ("train", "dev", "test"):
        items = scan_openslr(tmp_path, f"{split}.tsv")
        assert all(Path(i.audio_path).is_file() for i in items)
        speakers[split] = {r[1] for r in SLR54_ROWS if r[0] in {i.id for i in items}}
    assert not (speakers["train"] & speakers["dev"]) and not (speakers["train"] & speakers["test"])
    assert speakers["test"]  # 4 speakers: the first one by hash is test


def test_data_download_false_prints_the_command_true_fetches(
    tmp_path, server, checksums, monkeypatch
):
    data = load_group_option("data", "librispeech")
    data.root = str(tmp_path / "LibriSpeech")
    with pytest.raises(FileNotFoundError) as err:
        ensure_corpus(data, ["dev-clean"])
    assert f"seqlab data get librispeech {tmp_path} --subsets dev-clean" in str(err.value)
    assert not server.requests
    monkeypatch.setenv("SEQLAB_DATA_MIRROR", server.url)
    data.download = True
    ensure_corpus(data, ["dev-clean"])  # fetched on first use
    ensure_corpus(data, ["dev-clean"])  # there now: nothing more
    assert len(server.gets("dev-clean.tar.gz")) == 1
    assert (tmp_path / "LibriSpeech/dev-clean/19/198/19-198.trans.txt").is_file()


def test_mt_task_fetches_multi30k_on_first_use(tmp_path, server, checksums, monkeypatch):
    from seqlab.config import compose_experiment
    from seqlab.data.parallel import read_parallel
    from seqlab.tasks.mt.task import MTTask

    monkeypatch.setenv("SEQLAB_DATA_MIRROR", server.url)
    root = tmp_path / "multi30k"
    cfg = compose_experiment(
        "mt_transformer",
        [f"data.root={root}", "data.corpus=multi30k", "data.download=true",
         "data.build_if_missing=false", "data.test=test2016"],
    )  # fmt: skip
    task = MTTask.__new__(MTTask)  # only the data side: building the model is not this story
    task.cfg = cfg
    assert task._root() == root
    assert sorted(p.name for p in root.glob("*.de-en.*")) == sorted(
        f"{s}.de-en.{lang}" for s in ("train", "val", "test2016") for lang in ("de", "en")
    )
    assert read_parallel(root, "val", "de", "en") == [("Eine Frau.", "A woman.")]


def test_disk_space_is_checked_before_any_request(tmp_path, server, checksums, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10, 10, 5))
    with pytest.raises(DownloadError, match="needs about .* free"):
        _get("librispeech", tmp_path, server, subsets=["dev-clean"])
    assert not server.requests


def test_cli_list_and_errors(tmp_path, capsys):
    assert main(["data", "get", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("librispeech", "ljspeech", "openslr --id 54", "multi30k", "fsdd"):
        assert name in out
    assert main(["data", "get", "nosuch", str(tmp_path)]) == 1
    assert "no corpus named 'nosuch'" in capsys.readouterr().err
    assert main(["data", "get", "librispeech", str(tmp_path), "--subsets", "dev-cleen"]) == 1
    assert "--subsets takes: dev-clean" in capsys.readouterr().err


def test_fsdd_config_fetches_and_writes_manifests_on_first_use(tmp_path, server, monkeypatch):
    data = OmegaConf.create({"data": load_group_option("data", "fsdd")}).data  # ${data.manifests}
    data.root = str(tmp_path / "fsdd")
    names = list(data.train) + list(data.test)
    with pytest.raises(FileNotFoundError, match=f"`seqlab data get fsdd {tmp_path / 'fsdd'}`"):
        ensure_corpus(data, names)
    monkeypatch.setenv("SEQLAB_DATA_MIRROR", server.url)
    data.download = True
    ensure_corpus(data, names)
    assert all((tmp_path / "fsdd" / n).is_file() for n in names)
    (tmp_path / "fsdd" / "test.jsonl").unlink()  # a manifest lost later is written again,
    ensure_corpus(data, names)  # without fetching the archive twice
    assert (tmp_path / "fsdd" / "test.jsonl").is_file() and len(server.requests) == 1


def test_librispeech_lm_text_and_pairs_without_a_test_year(tmp_path, server, monkeypatch):
    text = b"HELLO WORLD\nGOOD MORNING\n"
    server.files["/resources/11/librispeech-lm-norm.txt.gz"] = gzip.compress(text)
    _get("librispeech-lm", tmp_path, server)
    assert (tmp_path / "librispeech-lm-norm.txt").read_bytes() == text
    # test2017 has no Czech side: an en-cs pair offers every other split
    units = [u.name for u in catalogue.resolve("multi30k", pair="en-cs").units]
    assert units == ["train", "val", "test2016", "test2018"]
    with pytest.raises(DownloadError, match="two of cs, de, en, fr"):
        catalogue.resolve("multi30k", pair="de-xx")


def test_a_root_that_get_cannot_fill_says_where_it_would_go(tmp_path):
    data = load_group_option("data", "librispeech")
    data.root = str(tmp_path / "ls")
    (tmp_path / "ls" / "test-clean").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"folders there: \['test-clean'\]") as err:
        ensure_corpus(data, ["dev-clean"])
    assert f"seqlab data get librispeech {tmp_path} --subsets dev-clean" in str(err.value)
    assert f"data.root={tmp_path / 'LibriSpeech'}" in str(err.value)
    assert main(["data", "get", "fsdd", str(tmp_path), "--pair", "de-en"]) == 2
