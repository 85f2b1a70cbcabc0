"""Golden checks of the on-device front ends against the Hugging Face feature extractors, and the
pieces of the HF fine-tuning data path: script-agnostic normalisation, the character vocabulary
and its HF tokenizer, the OpenSLR / Common Voice / save_to_disk readers."""

import json
import sys
import types

import numpy as np
import pytest
import soundfile as sf
import torch

from seqlab.audio.resample import resample
from seqlab.audio.seamless_fbank import SeamlessFbank
from seqlab.corpora.espeak import ESPEAK_SAMPLE_RATE, synthesize
from seqlab.data.tsv_corpora import scan_commonvoice, scan_openslr
from seqlab.models.asr.hf_ctc import WaveformNorm
from seqlab.text.script_normalize import ScriptNormalizer
from seqlab.text.script_vocab import ScriptCharVocab
from seqlab.text.vocab import load_vocab

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def waves():
    """Real speech of different lengths (odd and even frame counts), 16 kHz, plus a noisy tail."""
    texts = ["привет", "как дела у тебя сегодня", "поезд номер сорок один уже здесь", "да"]
    out = []
    for i, text in enumerate(texts):
        wave = resample(synthesize(text, voice="ru"), ESPEAK_SAMPLE_RATE, 16000)
        wave = wave + np.random.default_rng(i).standard_normal(len(wave)) * 1e-3
        out.append(wave[: len(wave) - 37 * i].astype(np.float32))
    return out


def _batch(waves):
    lengths = torch.tensor([len(w) for w in waves])
    audio = torch.zeros(len(waves), int(lengths.max()))
    for i, w in enumerate(waves):
        audio[i, : len(w)] = torch.from_numpy(w)
    return audio, lengths


def test_seamless_fbank_equals_the_hf_extractor_on_a_padded_batch(waves):
    extractor = transformers.SeamlessM4TFeatureExtractor()
    ref = extractor(waves, sampling_rate=16000, return_tensors="pt")
    feats, mask = SeamlessFbank()(*_batch(waves))
    assert feats.shape == ref["input_features"].shape and feats.shape[-1] == 160
    assert torch.equal(mask, ref["attention_mask"].long())
    # the extractor is float64 numpy with a complex64 spectrum; normalised features agree to ~1e-4
    torch.testing.assert_close(feats, ref["input_features"].float(), atol=2e-3, rtol=0)
    assert (feats - ref["input_features"]).abs().mean() < 1e-5
    # each item alone gives the same features as in the batch (padding changes nothing)
    for i, wave in enumerate(waves):
        alone, alone_mask = SeamlessFbank()(*_batch([wave]))
        n = int(alone_mask.sum())
        assert n == int(mask[i].sum())
        torch.testing.assert_close(alone[0, :n], feats[i, :n], atol=1e-4, rtol=0)


def test_seamless_fbank_lengths_match_the_attention_mask(waves):
    fbank = SeamlessFbank()
    extractor = transformers.SeamlessM4TFeatureExtractor()
    for n in (400, 560, 719, 720, 16000, 16161):
        ref = extractor(np.ones(n, np.float32) * 0.1, sampling_rate=16000, return_tensors="pt")
        assert int(fbank.output_lengths(torch.tensor([n]))[0]) == int(ref["attention_mask"].sum())


def test_waveform_norm_equals_the_wav2vec2_extractor(waves):
    extractor = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    ref = extractor(waves, sampling_rate=16000, return_tensors="pt", padding=True)
    values, mask = WaveformNorm(True, True)(*_batch(waves))
    torch.testing.assert_close(values, ref["input_values"], atol=1e-4, rtol=1e-4)
    assert torch.equal(mask, ref["attention_mask"].long())


def test_normalisation_keeps_every_script_intact(monkeypatch):
    ru = ScriptNormalizer(language="ru")
    assert ru("Поезд №5 — «Йошкар-Ола», 21 вагон!") == "поезд № пять йошкар ола двадцать один вагон"
    ne = ScriptNormalizer(language="ne")  # num2words has no Nepali: digits stay
    assert not ne.spells_numbers
    # the virama and vowel signs survive (NFKD + dropping marks would destroy them); danda dropped
    assert ne("नेपाली भाषा। १२ जना") == "नेपाली भाषा १२ जना"
    assert ScriptNormalizer(language="de")("Größe: 3 Äpfel") == "größe drei äpfel"
    assert ScriptNormalizer()("l'eau 'quoted'") == "l'eau quoted"
    hooks = types.ModuleType("user_hooks")  # a user's module with a number speller
    hooks.devanagari_digits = lambda text: text.replace("१२", "बाह्र")
    monkeypatch.setitem(sys.modules, "user_hooks", hooks)
    hooked = ScriptNormalizer(hook="user_hooks:devanagari_digits")
    assert hooked("१२ जना") == "बाह्र जना"
    with pytest.raises(ValueError, match="package.module:function"):
        ScriptNormalizer(hook="no_colon")


def test_script_vocab_round_trip_and_its_hf_tokenizer(tmp_path):
    vocab = ScriptCharVocab.from_texts(["नमस्ते संसार", "राम्रो छ"], ScriptNormalizer("ne"))
    assert vocab.symbols[:3] == ["<blank>", " ", "[UNK]"] and "्" in vocab.symbols
    ids = vocab.encode("राम्रो संसार")
    assert vocab.decode(ids) == "राम्रो संसार"
    assert vocab.unmappable("नमस्ते क") == {"क"}
    with pytest.raises(ValueError, match="'क'"):
        vocab.encode("क")
    open_vocab = vocab.with_unknowns()  # evaluation splits: unseen characters are [UNK]
    assert open_vocab.unmappable("नमस्ते क") == set()
    assert open_vocab.encode("नमस्ते क")[-1] == vocab.unk_id == 2
    assert vocab.unmappable("क") == {"क"}  # the original is unchanged
    vocab.save(tmp_path)
    loaded = load_vocab(tmp_path)
    assert loaded.symbols == vocab.symbols and loaded.normalizer == vocab.normalizer
    tokenizer = vocab.hf_tokenizer(tmp_path / "hf")
    assert tokenizer.pad_token_id == 0 and tokenizer.convert_tokens_to_ids("|") == 1
    assert tokenizer("राम्रो संसार").input_ids == ids  # same ids, space -> "|"
    assert tokenizer.decode(ids) == "राम्रो संसार"


def test_openslr_and_commonvoice_readers(tmp_path):
    (tmp_path / "utt_spk_text.tsv").write_text(
        "utt_id\tspeaker_id\ttranscription\nab12cd\tspk1\tनमस्ते संसार\n\nef34\tspk2\tराम्रो\n",
        encoding="utf-8",
    )
    items = scan_openslr(tmp_path, "utt_spk_text")
    assert [i.id for i in items] == ["ab12cd", "ef34"]
    assert items[0].audio_path == str(tmp_path / "data" / "ab" / "ab12cd.flac")
    (tmp_path / "bad.tsv").write_text("ab12cd\tonly two fields\n")
    with pytest.raises(ValueError, match="bad.tsv line 1 has 2"):
        scan_openslr(tmp_path, "bad.tsv")
    (tmp_path / "train.tsv").write_text(
        'client_id\tpath\tsentence\tup_votes\nx\tcommon_voice_ru_1.mp3\t"Привет", мир\t2\n',
        encoding="utf-8",
    )
    cv = scan_commonvoice(tmp_path, "train.tsv")
    assert cv[0].id == "common_voice_ru_1" and cv[0].raw_text == '"Привет", мир'
    assert cv[0].audio_path == str(tmp_path / "clips" / "common_voice_ru_1.mp3")
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        scan_commonvoice(tmp_path, "missing.tsv")


def test_save_to_disk_dataset_is_read_and_a_broken_item_is_reported(tmp_path, waves):
    datasets = pytest.importorskip("datasets")
    from seqlab.data.hf_disk import scan_hf_disk
    from seqlab.data.index import build_index

    files = []
    for i, wave in enumerate(waves[:2]):
        files.append(tmp_path / f"{i}.flac")
        sf.write(files[-1], wave, 16000)
    rows = {
        "audio": [{"bytes": f.read_bytes(), "path": f.name} for f in files]
        + [{"bytes": b"garbage bytes, not audio", "path": "broken.flac"}],
        "sentence": ["привет", "как дела у тебя сегодня", "сломано"],
    }
    ds = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio())
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "saved"))
    items = scan_hf_disk(tmp_path / "saved", "train", cache_dir=tmp_path / "cache")
    assert [i.raw_text for i in items] == rows["sentence"]
    assert sf.info(items[0].audio_path).frames == len(waves[0])
    vocab = ScriptCharVocab.from_texts(rows["sentence"], ScriptNormalizer("ru"))
    bad_file = tmp_path / "bad_items.jsonl"
    index = build_index(items, None, vocab, bad_items_path=bad_file, normalize=vocab.normalize)
    assert len(index.utterances) == 2
    assert [json.loads(line)["reason"] for line in bad_file.read_text().splitlines()] == [
        "undecodable"
    ]
    with pytest.raises(ValueError, match="splits"):
        scan_hf_disk(tmp_path / "saved", "validation", cache_dir=tmp_path / "cache")


def test_warmup_ratio_schedule_is_the_trainers():
    """lr_scheduler=warmup_linear with warmup_ratio = the Trainer's linear schedule with warmup_ratio."""
    from seqlab.engine.schedulers import WarmupLinearDecay

    def lrs(make):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=5e-5)
        sched, out = make(opt), []
        for _ in range(23):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return out

    ours = lrs(lambda opt: WarmupLinearDecay(opt, total_steps=23, warmup_ratio=0.1))
    warmup = int(np.ceil(0.1 * 23))  # TrainingArguments.get_warmup_steps
    theirs = lrs(lambda opt: transformers.get_linear_schedule_with_warmup(opt, warmup, 23))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
