"""``seqlab serve``'s HTTP API end to end on 127.0.0.1: every operation gives what the
``transcribe`` / ``translate`` / ``vocode`` commands give on the same input; every row of the
bad-input matrix is a 4xx with a message naming what was wrong, and the server answers afterwards;
32 concurrent requests are all answered, batched (a batch of more than one is counted), each
equal to the one-at-a-time result.

One server per module (tiny checkpoints of tests/fixtures/checkpoints_v0/ and a tiny ARPA LM).
"""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("gradio", reason="seqlab serve needs the serve extra: pip install '.[serve]'")
httpx = pytest.importorskip("httpx")

import seqlab  # noqa: E402
from seqlab.cli import main  # noqa: E402
from seqlab.serve import Batching, DynamicBatcher, Limits, QueueFull, Server, load_models  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints_v0"
INPUTS = Path(__file__).parent / "fixtures" / "inputs"
ASR, MT, VOC = FIXTURES / "asr_bilstm", FIXTURES / "mt_transformer", FIXTURES / "vocoder_demo"
LIMITS = Limits(max_upload_mb=1, max_audio_seconds=5, max_text_chars=2000)
RATE = 16000
MT_LINES = ["ein mann liest ein buch .", "die frau sieht den hund .", "zwei kinder spielen ."]


def speech(seconds: float, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """A voiced glide with noise (tests/test_checkpoint_compat.py's kind of input)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wave = np.sin(2 * np.pi * np.cumsum(110 + 60 * t + 10 * seed) / rate)
    return (0.3 * wave + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def wav_bytes(wave: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, wave, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def npy_bytes(array, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def mel(frames: int, seed: int = 0) -> np.ndarray:
    return (-6.0 + 2.0 * np.random.default_rng(seed).standard_normal((80, frames))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def lm(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    text = folder / "text.txt"
    text.write_text("the cat sat on the mat\na man reads a book\nthe dog sees the cat\n")
    assert (
        main(["lm", "build-ngram", str(text), "--order", "2", "--out", str(folder / "lm.arpa")])
        == 0
    )
    return folder / "lm.arpa"


@pytest.fixture(scope="module")
def server(lm):
    # a long wait window, so that concurrent requests surely meet in one batch
    batching = Batching(max_batch=16, max_wait_ms=200, queue_size=64)
    models = load_models(
        [f"asr={ASR}", f"mt={MT}", f"voc={VOC}"], lm=str(lm), batching=batching, limits=LIMITS
    )
    running = Server(models, LIMITS, host="127.0.0.1", port=0).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


def transcribe(client, data: bytes, name: str = "a.wav", **form):
    return client.post("/api/transcribe", files={"file": (name, data)}, data=form)


def vocode(client, data: bytes, name: str = "mel.npy", **form):
    return client.post("/api/vocode", files={"file": (name, data)}, data=form)


def assert_same_hyps(got: list[dict], want: list[dict]) -> None:
    assert [h["text"] for h in got] == [h["text"] for h in want]
    for g, w in zip(got, want, strict=True):
        for key in ("score", "acoustic", "lm"):
            assert g[key] == pytest.approx(w[key], rel=1e-5, abs=1e-4)


# ---- every operation equals its command -----------------------------------------------------------
def test_models_lists_each_checkpoint_once_by_its_kind(client, lm):
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert {n: m["kind"] for n, m in models.items()} == {"asr": "asr", "mt": "mt", "voc": "vocoder"}
    assert models["asr"]["decoders"] == ["greedy", "beam", "beam+lm"]
    assert models["voc"]["sample_rate"] == 22050


@pytest.mark.parametrize(
    "form, flags",
    [
        ({}, []),
        ({"decoder": "beam", "beam_size": "4", "nbest": "3"}, ["--beam-size", "4", "--nbest", "3"]),
        ({"decoder": "beam+lm", "nbest": "2"}, ["--lm", "LM", "--nbest", "2"]),
    ],
    ids=["greedy", "beam", "beam+lm"],
)
def test_transcribe_equals_the_transcribe_command(client, lm, tmp_path, capsys, form, flags):
    path = tmp_path / "speech.wav"
    path.write_bytes((INPUTS / "speech.wav").read_bytes())
    r = transcribe(client, path.read_bytes(), "speech.wav", **form)
    flags = flags or ["--decoder", "greedy"]
    assert r.status_code == 200, r.text
    flags = [str(lm) if f == "LM" else f for f in flags]
    assert main(["transcribe", str(ASR), str(path), "--json", *flags]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    got = r.json()
    assert got["text"] == row["text"]
    if "nbest" in row:  # --nbest N > 1
        assert_same_hyps(got["nbest"], row["nbest"])
    assert got["audio_seconds"] == pytest.approx(0.6)


def test_translate_equals_the_translate_command(client, tmp_path, capsys):
    source = tmp_path / "src.de"
    source.write_text("\n".join(MT_LINES) + "\n")
    for beam in (1, 3):
        r = client.post("/api/translate", json={"text": "\n".join(MT_LINES), "beam_size": beam})
        assert r.status_code == 200, r.text
        assert main(["translate", str(MT), "--input", str(source), "--beam-size", str(beam)]) == 0
        assert r.json()["translation"].split("\n") == capsys.readouterr().out.splitlines()
        assert r.json()["beam_size"] == beam
    # no beam size: the checkpoint's, and the answer says which
    r = client.post("/api/translate", json={"text": MT_LINES[0]})
    assert main(["translate", str(MT), "--input", str(source)]) == 0
    assert r.json()["translation"] == capsys.readouterr().out.splitlines()[0]
    models = {m["kind"]: m for m in client.get("/api/models").json()["models"]}
    assert r.json()["beam_size"] == models["mt"]["default_beam_size"]


def test_vocode_equals_the_vocode_command(client, tmp_path):
    for path in (INPUTS / "mel_80.npy", INPUTS / "speech.wav"):  # a mel, and copy-synthesis
        assert main(["vocode", str(VOC), str(path), "--out", str(tmp_path)]) == 0
        r = vocode(client, path.read_bytes(), path.name)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "audio/wav"
        got, rate = sf.read(io.BytesIO(r.content), dtype="int16")
        want, want_rate = sf.read(tmp_path / f"{path.stem}.wav", dtype="int16")
        assert rate == want_rate == 22050
        np.testing.assert_array_equal(got, want)


# ---- the bad-input matrix ------------------------------------------------------------------------
NAN_WAVE = speech(0.5)
NAN_WAVE[100] = np.nan
INF_WAVE = speech(0.5)
INF_WAVE[7] = np.inf

BAD_AUDIO = [  # (case, upload name, bytes, status, words the message must hold)
    ("corrupt", "a.wav", b"RIFF not really a wav file", 422, ["a.wav", "not a readable audio"]),
    ("empty", "a.wav", b"", 422, ["a.wav", "empty"]),
    ("nan", "n.wav", wav_bytes(NAN_WAVE, subtype="FLOAT"), 422, ["n.wav", "NaN", "corrupt"]),
    ("inf", "i.wav", wav_bytes(INF_WAVE, subtype="FLOAT"), 422, ["i.wav", "inf"]),
    ("too-short", "s.wav", wav_bytes(speech(0.0005)), 422, ["s.wav", "too short"]),
    ("too-long", "l.wav", wav_bytes(speech(6.0)), 413, ["l.wav", "longer", "--max-audio-seconds"]),
    ("too-big", "b.wav", wav_bytes(speech(40.0), subtype="FLOAT"), 413, ["--max-upload-mb"]),
    ("text-file", "a.txt", b"hello", 422, ["a.txt", "not a readable audio"]),
]


@pytest.mark.parametrize(
    "case, name, data, status, words", BAD_AUDIO, ids=[c[0] for c in BAD_AUDIO]
)
def test_bad_audio_is_a_4xx_naming_it_and_the_server_goes_on(
    client, case, name, data, status, words
):
    r = transcribe(client, data, name)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]
    assert transcribe(client, wav_bytes(speech(0.5)), "ok.wav").status_code == 200


def test_audio_that_is_handled_is_answered_like_the_command(client, tmp_path, capsys):
    """Another rate is resampled, stereo mixed down, digital silence is "" with a warning."""
    cases = {
        "8k.wav": wav_bytes(speech(0.7, rate=8000), rate=8000),
        "stereo.wav": wav_bytes(np.stack([speech(0.7), speech(0.7, 1)], axis=1)),
        "silence.wav": wav_bytes(np.zeros(RATE, np.float32)),
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        r = transcribe(client, data, name)
        assert r.status_code == 200, r.text
        assert main(["transcribe", str(ASR), str(tmp_path / name), "--json"]) == 0
        row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert r.json()["text"] == row["text"]
        if name == "silence.wav":
            assert row["text"] == "" and "digital silence" in r.json()["warning"]
            assert "silence.wav" in r.json()["warning"]


BAD_REQUESTS = [  # (case, request kwargs, status, words)
    ("unknown-model", dict(files={"file": ("a.wav", b"x")}, data={"model": "nope"}), 404, ["nope", "asr"]),
    ("wrong-kind", dict(files={"file": ("a.wav", b"x")}, data={"model": "mt"}), 422, ["/api/translate"]),
    ("no-file", dict(data={"decoder": "beam"}), 422, ["file"]),
    ("bad-decoder", dict(files={"file": ("a.wav", b"x")}, data={"decoder": "viterbi"}), 422, ["greedy, beam, beam+lm"]),
    ("beam-zero", dict(files={"file": ("a.wav", b"x")}, data={"decoder": "beam", "beam_size": "0"}), 422, ["beam_size"]),
    ("nbest-text", dict(files={"file": ("a.wav", b"x")}, data={"nbest": "many"}), 422, ["nbest"]),
]  # fmt: skip


@pytest.mark.parametrize(
    "case, kwargs, status, words", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_transcribe_requests(client, case, kwargs, status, words):
    r = client.post("/api/transcribe", **kwargs)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]


BAD_TEXT = [  # (case, body, status, words)
    ("empty", {"text": ""}, 422, ["empty"]),
    ("blank", {"text": " \n\t "}, 422, ["empty"]),
    ("huge", {"text": "ein hund . " * 400}, 413, ["--max-text-chars", "4,400"]),
    ("not-a-string", {"text": 42}, 422, ["text"]),
    ("no-text", {"beam_size": 2}, 422, ["text"]),
    ("nul", {"text": "ein\x00hund"}, 422, ["NUL"]),
    ("beam-zero", {"text": "ein hund .", "beam_size": 0}, 422, ["beam_size"]),
    ("unknown-model", {"text": "ein hund .", "model": "nope"}, 404, ["nope"]),
]


@pytest.mark.parametrize("case, body, status, words", BAD_TEXT, ids=[c[0] for c in BAD_TEXT])
def test_bad_text_is_a_4xx_naming_it_and_the_server_goes_on(client, case, body, status, words):
    r = client.post("/api/translate", json=body)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]
    assert client.post("/api/translate", json={"text": MT_LINES[0]}).status_code == 200


def test_text_that_is_not_utf8_json_is_a_4xx(client):
    for body in (b'{"text": "\xff\xfe"}', b"{not json", b""):
        r = client.post(
            "/api/translate", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= r.status_code < 500, r.text
        assert "JSON" in r.json()["error"] or "text" in r.json()["error"]


def test_a_line_longer_than_the_model_takes_is_translated_in_pieces_with_a_warning(client):
    long_line = " ".join(MT_LINES * 12)  # 192 words > data.max_src_tokens 100
    r = client.post("/api/translate", json={"text": f"{MT_LINES[0]}\n{long_line}"})
    assert r.status_code == 200, r.text
    assert len(r.json()["translation"].split("\n")) == 2
    assert r.json()["warning"].startswith("line 2: 192 tokens")
    with pytest.warns(UserWarning, match="line 2: 192 tokens"):
        alone = seqlab.load(MT).translate([MT_LINES[0], long_line])
    assert r.json()["translation"].split("\n") == alone


BAD_MELS = [  # (case, name, bytes, status, words)
    ("nan", "n.npy", npy_bytes(np.where(np.arange(80 * 12).reshape(80, 12) == 5, np.nan, mel(12))), 422, ["n.npy", "NaN"]),
    ("no-frames", "z.npy", npy_bytes(np.zeros((80, 0), np.float32)), 422, ["z.npy", "no frames"]),
    ("transposed", "t.npy", npy_bytes(mel(12).T), 422, ["t.npy", "transposed"]),
    ("3-d", "d.npy", npy_bytes(mel(12)[None]), 422, ["d.npy", "[80, frames]"]),
    ("corrupt", "c.npy", b"\x93NUMPY garbage", 422, ["c.npy", "cannot be read"]),
    ("pickled", "p.npy", npy_bytes(np.array([{"a": 1}], dtype=object), allow_pickle=True), 422, ["p.npy"]),
    ("corrupt-wav", "c.wav", b"RIFF....", 422, ["c.wav", "not a readable audio"]),
    ("other-type", "m.txt", b"1 2 3", 422, ["m.txt", ".npy"]),
    ("empty", "e.npy", b"", 422, ["e.npy", "empty"]),
    ("too-long", "l.npy", npy_bytes(mel(600)), 413, ["l.npy", "--max-audio-seconds"]),
]  # fmt: skip


@pytest.mark.parametrize("case, name, data, status, words", BAD_MELS, ids=[c[0] for c in BAD_MELS])
def test_bad_vocoder_input_is_a_4xx_naming_it_and_the_server_goes_on(
    client, case, name, data, status, words
):
    r = vocode(client, data, name)
    assert r.status_code == status, r.text
    for word in words:
        assert word in r.json()["error"]
    assert vocode(client, npy_bytes(mel(12))).status_code == 200


# ---- concurrency and batching --------------------------------------------------------------------
def test_32_concurrent_requests_are_batched_and_equal_one_at_a_time(client, server, tmp_path):
    waves = [speech(0.4 + 0.1 * (i % 5), seed=i) for i in range(11)]
    lines = [
        f"{MT_LINES[i % 3]} {MT_LINES[(i + 1) % 3]}" if i % 2 else MT_LINES[i % 3]
        for i in range(11)
    ]
    mels = [mel(12 if i < 7 else 20, seed=i) for i in range(10)]  # equal lengths batch together
    jobs = [("asr", w) for w in waves] + [("mt", x) for x in lines] + [("voc", m) for m in mels]
    before = {
        m["name"]: m["batching"]["batches"] for m in client.get("/api/models").json()["models"]
    }
    start = threading.Barrier(len(jobs), timeout=30)

    def send(job):
        kind, value = job
        start.wait()  # all 32 leave together
        if kind == "asr":
            return transcribe(client, wav_bytes(value), "w.wav")
        if kind == "mt":
            return client.post("/api/translate", json={"text": value})
        return vocode(client, npy_bytes(value))

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(send, job) for job in jobs]
        done, not_done = wait(futures, timeout=120)  # bounded: never waits longer than this
    assert not not_done, f"{len(not_done)} of {len(jobs)} requests unanswered after 120 s"
    answers = [f.result() for f in futures]
    assert all(a.status_code == 200 for a in answers), [
        a.text for a in answers if a.status_code != 200
    ]

    recognizer, translator, vocoder = seqlab.load(ASR), seqlab.load(MT), seqlab.load(VOC)
    for (kind, value), answer in zip(jobs, answers, strict=True):
        if kind == "asr":  # the file as it was uploaded (16-bit), one at a time
            path = tmp_path / "w.wav"
            path.write_bytes(wav_bytes(value))
            assert_same_hyps(
                answer.json()["nbest"], [vars(h) for h in recognizer.transcribe_nbest(str(path))]
            )
        elif kind == "mt":
            assert answer.json()["translation"] == translator.translate([value])[0]
        else:
            got, _ = sf.read(io.BytesIO(answer.content), dtype="int16")
            want, _ = sf.read(io.BytesIO(wav_bytes(vocoder.vocode(value), 22050)), dtype="int16")
            np.testing.assert_array_equal(got, want)

    models = {m["name"]: m["batching"] for m in client.get("/api/models").json()["models"]}
    for name in ("asr", "mt", "voc"):
        assert models[name]["largest_batch"] > 1, (name, models[name])
        assert models[name]["batches"] - before[name] < 11  # fewer calls than requests
    sizes = [
        int(a.json()["batch_size"]) for a in answers if a.headers["content-type"] != "audio/wav"
    ]
    assert max(sizes) > 1


def test_a_full_queue_is_503_and_the_server_goes_on(tmp_path):
    """A model busy on one request, with room for one more waiting: the third is refused."""
    models = load_models([str(MT)], batching=Batching(max_batch=1, max_wait_ms=0, queue_size=1))
    translator = models["mt_transformer"]
    gate, started = threading.Event(), threading.Event()
    real = translator.batcher.run_batch

    def held(key, payloads):  # the model is busy until the test lets it go
        started.set()
        assert gate.wait(30)
        return real(key, payloads)

    translator.batcher.run_batch = held
    running = Server(models, page=False).start()
    try:
        with httpx.Client(base_url=running.url, timeout=60) as c, ThreadPoolExecutor(2) as pool:
            first = pool.submit(c.post, "/api/translate", json={"text": MT_LINES[0]})
            assert started.wait(30)  # the first is in the model
            second = pool.submit(c.post, "/api/translate", json={"text": MT_LINES[1]})
            for _ in range(1000):  # bounded: until the second waits in the queue
                if translator.batcher.waiting == 1:
                    break
                threading.Event().wait(0.01)
            third = c.post("/api/translate", json={"text": MT_LINES[2]})
            assert third.status_code == 503
            assert (
                "queue is full" in third.json()["error"] and "--queue-size" in third.json()["error"]
            )
            gate.set()
            assert first.result(60).status_code == 200 and second.result(60).status_code == 200
            assert c.post("/api/translate", json={"text": MT_LINES[2]}).status_code == 200
    finally:
        gate.set()
        running.stop()


def test_batcher_runs_one_call_per_key_and_hands_each_its_result():
    calls = []
    gate = threading.Event()

    def run(key, payloads):
        assert gate.wait(10)
        calls.append((key, list(payloads)))
        return [ValueError(p) if p == "bad" else f"{key}:{p}" for p in payloads]

    # a batch closes when full (2): the long window never runs out in this test
    batcher = DynamicBatcher(run, max_batch=2, max_wait_ms=5000, queue_size=8, name="toy")
    try:
        jobs = (("a", "1"), ("b", "2"), ("a", "bad"), ("b", "4"))
        futures = [batcher.submit(key, payload) for key, payload in jobs]
        gate.set()
        assert [futures[i].result(10) for i in (0, 1, 3)] == ["a:1", "b:2", "b:4"]
        with pytest.raises(ValueError, match="bad"):
            futures[2].result(10)
        assert calls == [("a", ["1", "bad"]), ("b", ["2", "4"])]
        assert batcher.stats.largest == 2 and batcher.stats.batches == 2
    finally:
        gate.set()
        batcher.close()


def test_batcher_queue_is_bounded():
    gate = threading.Event()
    batcher = DynamicBatcher(
        lambda key, payloads: [gate.wait(10) and p for p in payloads],
        max_batch=1,
        max_wait_ms=0,
        queue_size=4,
        name="toy",
    )
    try:
        busy = batcher.submit("a", "x")
        for _ in range(1000):  # bounded: until the worker holds it
            if batcher.waiting == 0:
                break
            threading.Event().wait(0.01)
        waiting = [batcher.submit(str(i % 2), i) for i in range(4)]  # keys mixed: still counted
        with pytest.raises(QueueFull, match="queue is full"):
            batcher.submit("a", "one too many")
        gate.set()
        assert busy.result(10) == "x" and [f.result(10) for f in waiting] == [0, 1, 2, 3]
        assert batcher.submit("a", "room again").result(10) == "room again"
    finally:
        gate.set()
        batcher.close()


def test_max_batch_may_be_set_per_model():
    from seqlab.cli.serve import _max_batch

    assert _max_batch(["8", "voc=1"]) == (8, {"voc": 1})
    with pytest.raises(ValueError, match="NAME=N"):
        _max_batch(["voc=0"])
    models = load_models([f"mt={MT}", f"voc={VOC}"], max_batch_of={"voc": 1})
    try:
        assert {n: m.batcher.max_batch for n, m in models.items()} == {"mt": 16, "voc": 1}
    finally:
        for model in models.values():
            model.close()
    with pytest.raises(ValueError, match="no model is named 'vocoder'.*mt"):
        load_models([f"mt={MT}"], max_batch_of={"vocoder": 1})


def test_serve_command_refuses_what_it_cannot_serve(capsys):
    assert main(["serve", str(FIXTURES / "lm_gpt2_small"), "--port", "0"]) == 2
    assert "give it as --lm" in capsys.readouterr().err
    assert main(["serve", str(MT), "--lm", "missing.arpa", "--port", "0"]) == 2
    assert "missing.arpa" in capsys.readouterr().err


def test_the_serve_command_listens_on_127_0_0_1_and_stops_on_a_signal():
    """The command as a user runs it: it says where it listens (127.0.0.1 unless --host says
    otherwise), answers, and ends cleanly on SIGTERM (as on Ctrl-C)."""
    import os
    import re
    import signal
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(seqlab.__file__).parents[1])}
    command = "from seqlab.cli import main; raise SystemExit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "serve", str(VOC), "--port", "0", "--no-batching"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = None
        for _ in range(200):  # bounded: the lines it prints while starting
            line = process.stderr.readline()
            found = re.search(r"the page is (http://[^/]+)/ ", line)
            if found or not line:
                url = found and found.group(1)
                break
        assert url and url.startswith("http://127.0.0.1:"), line
        models = httpx.get(f"{url}/api/models", timeout=30).json()["models"]
        assert [(m["name"], m["kind"], m["batching"]["max_batch"]) for m in models] == [
            ("vocoder_demo", "vocoder", 1)
        ]
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
