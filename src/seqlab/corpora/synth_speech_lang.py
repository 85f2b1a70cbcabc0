"""A small built-in non-English speech corpus (Russian) from eSpeak NG, in the OpenSLR TSV layout.

    <out>/train.tsv, dev.tsv, test.tsv    utt_id <TAB> speaker_id <TAB> transcription  (no header)
    <out>/data/<xx>/<utt_id>.flac         16 kHz mono 16-bit; xx = the first two characters of utt_id
    <out>/corpus.json                     summary, written last: its presence means the build finished

It exercises what fine-tuning a pretrained model on another script needs offline: a Cyrillic
character vocabulary, numbers written as digits in the transcripts (eSpeak reads them; the
text normaliser spells them out with num2words), and the OpenSLR reader. Speakers are eSpeak
voices + variants with their own rate and pitch; dev and test speakers are never heard in train,
and the three splits have disjoint sentences. Same seed, same bytes (the rendering is
:func:`seqlab.corpora.synth_speech.render`, deterministic per utterance).

Ours because no corpus can be downloaded at run time; the sentences come from the tiny grammar
below (nouns are used in the nominative or in fixed phrases, so no declension is needed).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from pathlib import Path

from seqlab.corpora.synth_speech import Job, render

CORPUS_VERSION = "synth-speech-lang-1"  # bump when a seed's corpus changes
SECONDS_PER_UTTERANCE = 1.9  # measured average, to plan the utterances for the requested hours
HELD_OUT_FRACTION = 0.1  # dev and test each: this fraction of train's utterances (at least 20)

# (subject nominative, gender) -- gender picks the past-tense verb form
_SUBJECTS = [
    ("кот", "m"), ("брат", "m"), ("врач", "m"), ("сосед", "m"), ("учитель", "m"), ("повар", "m"),
    ("мальчик", "m"), ("дедушка", "m"), ("сестра", "f"), ("мама", "f"), ("девочка", "f"),
    ("бабушка", "f"), ("подруга", "f"), ("соседка", "f"), ("учительница", "f"), ("собака", "f"),
]  # fmt: skip
# past-tense verbs (masculine, feminine) + objects that need no declension (accusative = nominative)
_VERBS = [("купил", "купила"), ("нашёл", "нашла"), ("видел", "видела"), ("открыл", "открыла"),
          ("закрыл", "закрыла"), ("принёс", "принесла"), ("взял", "взяла"), ("продал", "продала")]  # fmt: skip
_OBJECTS = ["стол", "дом", "хлеб", "чай", "сыр", "журнал", "ключ", "телефон", "зонт", "билет",
            "подарок", "портфель", "словарь", "компьютер", "велосипед", "мяч"]  # fmt: skip
_PLACES = ["в городе", "на работе", "в магазине", "на улице", "в школе", "дома", "на вокзале",
           "в парке", "у реки", "на рынке", "в библиотеке", "на кухне"]  # fmt: skip
_TIMES = ["сегодня", "вчера", "утром", "вечером", "днём", "ночью", "летом", "зимой", "весной",
          "осенью"]  # fmt: skip
_ADJ_M = ["новый", "старый", "большой", "маленький", "красный", "синий", "тёплый", "чистый"]
_THINGS_M = ["дом", "стол", "мост", "сад", "поезд", "автобус", "город", "лес", "двор"]
_STATES_M = ["стоит здесь", "очень красивый", "совсем рядом", "виден издалека", "уже готов"]
_NUMBERED = ["поезд номер", "автобус номер", "комната номер", "квартира номер", "вагон номер"]
_NUMBER_ENDINGS = ["уже здесь", "ждёт вас", "справа", "слева", "на втором этаже", "скоро будет"]
_GREETINGS = ["привет", "здравствуйте", "добрый день", "доброе утро", "добрый вечер", "спасибо"]
_NAMES = ["анна", "иван", "мария", "пётр", "ольга", "сергей", "наталья", "алексей", "елена"]
_QUESTIONS = ["как дела", "где ты", "что нового", "который час", "куда ты идёшь", "ты готов"]

VOICES = ("ru", "ru-lv", "ru-cl")
VARIANTS = ("m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt2 adam benjamin boris david "
            "edward linda max michel rob robert steph travis victor").split()  # fmt: skip
LANGUAGES = ("ru",)


def russian_sentence(rng: random.Random) -> str:
    """One Russian sentence from the tiny grammar (first letter capitalised, punctuation kept)."""
    kind = rng.random()
    if kind < 0.35:
        subject, gender = rng.choice(_SUBJECTS)
        verb = rng.choice(_VERBS)[0 if gender == "m" else 1]
        text = (
            f"{rng.choice(_TIMES)} {subject} {verb} {rng.choice(_OBJECTS)} {rng.choice(_PLACES)}."
        )
    elif kind < 0.55:
        text = f"{rng.choice(_ADJ_M)} {rng.choice(_THINGS_M)} {rng.choice(_STATES_M)}."
    elif kind < 0.75:  # digits on purpose: eSpeak reads them, the normaliser spells them out
        text = f"{rng.choice(_NUMBERED)} {rng.randint(1, 99)} {rng.choice(_NUMBER_ENDINGS)}."
    elif kind < 0.9:
        text = f"{rng.choice(_GREETINGS)}, {rng.choice(_NAMES)}!"
    else:
        text = f"{rng.choice(_NAMES)}, {rng.choice(_QUESTIONS)}?"
    return text[0].upper() + text[1:]


def _utt_id(seed: int, split: str, index: int) -> str:
    return hashlib.sha1(f"{CORPUS_VERSION}/{seed}/{split}/{index}".encode()).hexdigest()[:10]


def build_lang_corpus(
    out: str | Path,
    language: str = "ru",
    hours: float = 0.3,
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Synthesise the corpus into ``out`` (see the module docstring).

    Args:
        out: output directory (must be empty or absent unless ``overwrite``).
        language: ``ru`` (the only grammar so far).
        hours: hours of training speech (about 1.9 s per utterance; dev and test add 10 % each).
        seed: same seed, same bytes.
        overwrite: delete ``out`` first if it exists.

    Returns:
        the summary written to ``corpus.json``.
    """
    if language not in LANGUAGES:
        raise ValueError(
            f"no built-in sentence grammar for language {language!r}; available: "
            f"{', '.join(LANGUAGES)} (English: seqlab data synth-speech without --language)"
        )
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; pass overwrite=True or choose another directory"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rng = random.Random(seed)
    speakers = [(voice, variant) for voice in VOICES for variant in VARIANTS]
    rng.shuffle(speakers)
    n_held = max(3, len(speakers) // 10)
    pools = {
        "dev": speakers[:n_held],
        "test": speakers[n_held : 2 * n_held],
        "train": speakers[2 * n_held :],
    }
    n_train = max(20, round(hours * 3600 / SECONDS_PER_UTTERANCE))
    counts = {"train": n_train, "dev": max(20, round(n_train * HELD_OUT_FRACTION))}
    counts["test"] = counts["dev"]
    used: set[str] = set()
    summary: dict = {"version": CORPUS_VERSION, "language": language, "seed": seed, "splits": {}}
    for split in ("train", "dev", "test"):
        rows, seconds = [], 0.0
        for index in range(counts[split]):
            for _ in range(50):  # held-out splits take sentences never used before
                text = russian_sentence(rng)
                if split == "train" or text not in used:
                    break
            used.add(text)
            voice, variant = rng.choice(pools[split])
            job = Job(
                text=text,
                voice=voice,
                variant=variant,
                rate=rng.randint(140, 200),
                pitch=rng.randint(30, 70),
                pitch_range=rng.randint(30, 70),
                level_db=rng.uniform(-28.0, -18.0),
                lead_s=rng.uniform(0.05, 0.3),
                trail_s=rng.uniform(0.05, 0.3),
                noise_db=rng.uniform(-75.0, -55.0),
                noise_seed=rng.getrandbits(31),
            )
            flac, n_samples = render(job)
            utt = _utt_id(seed, split, index)
            path = out / "data" / utt[:2] / f"{utt}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(flac)
            speaker = f"{voice}+{variant}"
            rows.append(f"{utt}\t{speaker}\t{text}")
            seconds += n_samples / 16000
        (out / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        summary["splits"][split] = {"utterances": len(rows), "hours": round(seconds / 3600, 4)}
    summary["hours_requested"] = hours
    summary["seconds_to_build"] = round(time.perf_counter() - start, 1)
    (out / "corpus.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2))
    return summary
