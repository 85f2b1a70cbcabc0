"""What ``seqlab data get NAME DIR`` can fetch, and how each corpus lands in its ``data=`` layout.

A corpus is a list of *units* (a LibriSpeech subset, an OpenSLR shard, a Multi30k split), each a
few archives and a way to install them into DIR. A unit that finished leaves a marker in
``DIR/.seqlab-get/``: a re-run fetches and unpacks nothing twice. Some corpora end with a
``finish`` step over the installed units (SLR54's train/dev/test TSVs, FSDD's manifests).

Checksums: LibriSpeech's md5 sums are the ones openslr.org/12 publishes; LJSpeech 1.1's sha256 is
the one torchaudio and others pin; the Multi30k sha256 sums are those of the files GitHub serves
(measured on the copies in ``../shared/corpora``); where nothing is published (OpenSLR 11, 52-54,
the other Multi30k files, FSDD's moving ``master`` archive) the size the server announces is checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from seqlab.data.download import Archive, DownloadError, decompress, extract, merge_into

GB = 10**9
MB = 10**6

# ------------------------------------------------------------------------------ LibriSpeech

LIBRISPEECH_URL = "https://www.openslr.org/resources/12/{}.tar.gz"
LIBRISPEECH_SUBSETS = {  # name: (md5 from openslr.org/12, archive bytes (approx. where not exact))
    "dev-clean": ("42e2234ba48799c1f50f24a7926300a1", 337_926_286),
    "dev-other": ("c8d0bcc9cca99d4f8b62fcc847357931", 314 * MB),
    "test-clean": ("32fa31d27d2e1cad72775fee3f4849a9", 346_663_984),
    "test-other": ("fb5a50374b501bb3bac4815ee91d3135", 328 * MB),
    "train-clean-100": ("2a93770f6d5c6c964bc36631d331a522", 6_387_309_499),
    "train-clean-360": ("c0e676e450a7ff2f54aeade5171606fa", 23 * GB),
    "train-other-500": ("d1a0fd59409feb2c614ce4d30c387708", 30 * GB),
}
LIBRISPEECH_LM_URL = "https://www.openslr.org/resources/11/librispeech-lm-norm.txt.gz"
LJSPEECH_URL = "https://data.keithito.com/data/speech/LJSpeech-1.1.tar.bz2"
LJSPEECH_SHA256 = "be1a30453f28eb8dd26af4101ae40cbf2c50413b1bb21936cbcdc6fae3de8aa5"
LJSPEECH_BYTES = 2_748_572_632
OPENSLR_URL = "https://www.openslr.org/resources/{id}/{name}"
OPENSLR_SETS = {  # id: (archive stem, language, approx bytes per zip or None)
    52: ("asr_sinhala", "Sinhala", None),
    53: ("asr_bengali", "Bengali", None),
    54: ("asr_nepali", "Nepali", 589 * MB),
}
SHARDS = "0123456789abcdef"
MULTI30K_URL = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw/{}.gz"
MULTI30K_SPLITS = {  # our split name: (upstream file stem, languages it exists in)
    "train": ("train", "cs de en fr"),
    "val": ("val", "cs de en fr"),
    "test2016": ("test_2016_flickr", "cs de en fr"),
    "test2017": ("test_2017_flickr", "de en fr"),
    "test2017_mscoco": ("test_2017_mscoco", "de en fr"),
    "test2018": ("test_2018_flickr", "cs de en fr"),
}
MULTI30K_SHA256 = {  # the files GitHub serves (copies in ../shared/corpora/multi30k)
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
}
FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.tar.gz"
)


@dataclass
class Unit:
    """A piece of a corpus fetched and installed as a whole (one marker).

    Attributes:
        name: the unit's name (``--subsets`` picks units by it).
        archives: the files to fetch.
        install: ``(archive paths, DIR, tmp folder) -> None`` puts them in place.
    """

    name: str
    archives: list[Archive]
    install: Callable[[list[Path], Path, Path], None]


@dataclass
class Corpus:
    """A catalogue entry resolved for its options (subsets, pair, OpenSLR id)."""

    name: str
    description: str
    units: list[Unit]
    root: str = ""  # where data.root points, relative to DIR
    default_units: list[str] | None = None  # None: all
    finish: Callable[[Path], None] | None = None
    data_option: str = ""  # the data= option that reads it
    notes: list[str] = field(default_factory=list)


def unpack(strip_top: bool = False) -> Callable[[list[Path], Path, Path], None]:
    """An installer that extracts every archive into the tmp folder, then merges it into DIR."""

    def install(paths: list[Path], directory: Path, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        for path in paths:
            if path.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip", ".tar.xz")):
                extract(path, tmp, strip_top=strip_top)
            else:  # a plain file (utt_spk_text.tsv) or one compressed file (.txt.gz)
                name = path.name[:-3] if path.suffix in (".gz", ".bz2", ".xz") else path.name
                decompress(path, tmp / name)
        merge_into(tmp, directory)

    return install


def _librispeech() -> Corpus:
    units = [
        Unit(
            name,
            [
                Archive(
                    LIBRISPEECH_URL.format(name),
                    f"{name}.tar.gz",
                    md5=md5,
                    approx_bytes=size,
                    unpacked_bytes=size,  # FLAC does not compress further
                )
            ],
            unpack(),
        )
        for name, (md5, size) in LIBRISPEECH_SUBSETS.items()
    ]
    return Corpus(
        "librispeech",
        "LibriSpeech ASR corpus (openslr.org/12), any of its 7 subsets",
        units,
        root="LibriSpeech",
        default_units=["train-clean-100", "dev-clean", "test-clean"],  # data=librispeech's
        data_option="data=librispeech data.root=DIR/LibriSpeech",
    )


def _librispeech_lm() -> Corpus:
    archive = Archive(
        LIBRISPEECH_LM_URL,
        "librispeech-lm-norm.txt.gz",
        approx_bytes=1_500 * MB,
        unpacked_bytes=4_500 * MB,
    )
    return Corpus(
        "librispeech-lm",
        "LibriSpeech LM text (openslr.org/11), normalised, one sentence a line",
        [Unit("librispeech-lm-norm", [archive], unpack())],
        data_option="data=lm_text data.train=[DIR/librispeech-lm-norm.txt]",
    )


def _ljspeech() -> Corpus:
    archive = Archive(
        LJSPEECH_URL,
        "LJSpeech-1.1.tar.bz2",
        sha256=LJSPEECH_SHA256,
        size=LJSPEECH_BYTES,
        unpacked_bytes=3_801_111_440,
    )
    return Corpus(
        "ljspeech",
        "LJ Speech 1.1, one speaker, 24 h, 22,050 Hz (keithito.com)",
        [Unit("LJSpeech-1.1", [archive], unpack())],
        root="LJSpeech-1.1",
        data_option="data=ljspeech data.root=DIR/LJSpeech-1.1",
    )


def _openslr(slr_id: int) -> Corpus:
    if slr_id not in OPENSLR_SETS:
        raise DownloadError(
            f"OpenSLR id {slr_id} is not in the catalogue; known ids: "
            f"{', '.join(str(i) for i in OPENSLR_SETS)} (SLR52 Sinhala, SLR53 Bengali, SLR54 Nepali)"
        )
    stem, language, size = OPENSLR_SETS[slr_id]
    units = [
        Unit(
            "utt_spk_text",
            [Archive(OPENSLR_URL.format(id=slr_id, name="utt_spk_text.tsv"), "utt_spk_text.tsv")],
            unpack(),
        )
    ]
    for shard in SHARDS:
        name = f"{stem}_{shard}.zip"
        archive = Archive(
            OPENSLR_URL.format(id=slr_id, name=name),
            name,
            approx_bytes=size,
            unpacked_bytes=size,
        )
        units.append(Unit(shard, [archive], unpack(strip_top=True)))  # asr_nepali/ -> DIR/
    return Corpus(
        f"openslr-{slr_id}",
        f"OpenSLR {slr_id}: large {language} ASR set, 16 zip shards + utt_spk_text.tsv",
        units,
        finish=write_openslr_splits,
        data_option="data=openslr data.root=DIR",
        notes=["--subsets picks zip shards (0-9, a-f); the TSV splits list the audio present"],
    )


def _multi30k(pair: str) -> Corpus:
    src, sep, tgt = pair.partition("-")
    langs = {"cs", "de", "en", "fr"}
    if not sep or src not in langs or tgt not in langs or src == tgt:
        raise DownloadError(
            f"--pair {pair!r}: give two of cs, de, en, fr as SRC-TGT (e.g. --pair de-en)"
        )
    units = []
    for split, (stem, have) in MULTI30K_SPLITS.items():
        if src not in have.split() or tgt not in have.split():
            continue  # test2017 has no Czech side
        archives = [
            Archive(
                MULTI30K_URL.format(f"{stem}.{lang}"),
                f"{stem}.{lang}.gz",
                sha256=MULTI30K_SHA256.get(f"{stem}.{lang}.gz"),
                approx_bytes=650_000 if split == "train" else 25_000,
                unpacked_bytes=2 * MB if split == "train" else 80_000,
            )
            for lang in (src, tgt)
        ]
        units.append(Unit(split, archives, _install_pair(split, src, tgt)))
    return Corpus(
        "multi30k",
        "Multi30k task 1 (image captions; cs/de/en/fr), raw cased text, any pair and test year",
        units,
        data_option=f"data=parallel_text data.root=DIR data.src_lang={src} data.tgt_lang={tgt}",
    )


def _install_pair(split: str, src: str, tgt: str) -> Callable[[list[Path], Path, Path], None]:
    """Decompress a split's two files to ``<split>.<src>-<tgt>.<lang>``, UTF-8 and aligned."""

    def install(paths: list[Path], directory: Path, tmp: Path) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        counts = {}
        for lang, path in zip((src, tgt), paths, strict=True):
            out = tmp / f"{split}.{src}-{tgt}.{lang}"
            decompress(path, out)
            data = out.read_bytes()
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DownloadError(f"{path} is not UTF-8 text (byte {err.start})") from None
            counts[lang] = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
        if counts[src] != counts[tgt]:
            raise DownloadError(
                f"{paths[0].name} has {counts[src]:,} lines but {paths[1].name} has "
                f"{counts[tgt]:,}; the pair must be line-aligned (a damaged download?)"
            )
        merge_into(tmp, directory)

    return install


def _fsdd() -> Corpus:
    archive = Archive(
        FSDD_URL, "free-spoken-digit-dataset.tar.gz", approx_bytes=16 * MB, unpacked_bytes=30 * MB
    )
    return Corpus(
        "fsdd",
        "Free Spoken Digit Dataset: 3,000 clips of digits, 6 speakers, 8 kHz (GitHub master)",
        [Unit("free-spoken-digit-dataset", [archive], unpack(strip_top=True))],
        finish=write_fsdd_manifests,
        data_option="data=fsdd data.root=DIR",
    )


NAMES = ("librispeech", "librispeech-lm", "ljspeech", "openslr", "multi30k", "fsdd")


def resolve(name: str, pair: str | None = None, openslr_id: int | None = None) -> Corpus:
    """The catalogue entry ``name`` for these options (``openslr-54`` is ``openslr`` with id 54).

    Raises:
        DownloadError: an unknown name, id or pair.
    """
    if name.startswith("openslr-") and name[8:].isdigit():
        name, openslr_id = "openslr", int(name[8:])
    if name == "librispeech":
        return _librispeech()
    if name == "librispeech-lm":
        return _librispeech_lm()
    if name == "ljspeech":
        return _ljspeech()
    if name == "openslr":
        return _openslr(54 if openslr_id is None else int(openslr_id))
    if name == "multi30k":
        return _multi30k(pair or "de-en")
    if name == "fsdd":
        return _fsdd()
    raise DownloadError(f"no corpus named {name!r}; `seqlab data get --list` shows: {NAMES}")


def listing() -> list[dict]:
    """One row per fetchable corpus: name, what it is, units and download size (for ``--list``)."""
    rows = []
    entries = [(n, resolve(n)) for n in NAMES if n != "openslr"]
    entries[3:3] = [(f"openslr --id {i}", resolve("openslr", openslr_id=i)) for i in OPENSLR_SETS]
    for name, corpus in entries:
        total = sum(a.download_bytes for u in corpus.units for a in u.archives)
        unknown = any(not a.download_bytes for u in corpus.units for a in u.archives)
        rows.append(
            {
                "name": name,
                "description": corpus.description,
                "units": [u.name for u in corpus.units],
                "bytes": total,
                "size_known": not unknown,
                "layout": corpus.data_option,
            }
        )
    return rows


# ------------------------------------------------------------------------------ finish steps


def write_openslr_splits(directory: Path, dev: float = 0.05, test: float = 0.05) -> dict:
    """Write ``train.tsv``, ``dev.tsv`` and ``test.tsv`` for an OpenSLR large-ASR set.

    Speakers are ordered by a hash of their id and the first ones, about ``test`` of the
    utterances, go to test, the next ``dev`` to dev, the rest to train: no speaker is in two
    splits, and the split does not depend on which shards are present (only utterances whose
    FLAC is on disk are listed). Same input, same files.

    Returns:
        ``{split: number of utterances}``.
    """
    directory = Path(directory)
    index = directory / "utt_spk_text.tsv"
    rows = []
    for line in index.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 3 and fields[0] != "utt_id":
            rows.append(fields)
    per_speaker: dict[str, int] = {}
    for fields in rows:
        per_speaker[fields[1]] = per_speaker.get(fields[1], 0) + 1
    order = sorted(per_speaker, key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    split_of, seen = {}, 0
    for speaker in order:
        share = seen / max(len(rows), 1)
        split_of[speaker] = "test" if share < test else "dev" if share < test + dev else "train"
        seen += per_speaker[speaker]
    out: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
    for fields in rows:
        utt = fields[0]
        if (directory / "data" / utt[:2] / f"{utt}.flac").is_file():
            out[split_of[fields[1]]].append("\t".join(fields))
    for split, lines in out.items():
        tmp = directory / f".{split}.tsv.tmp"
        tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        tmp.replace(directory / f"{split}.tsv")
    return {split: len(lines) for split, lines in out.items()}


def write_fsdd_manifests(directory: Path):
    """Call :func:`seqlab.data.fsdd.write_manifests` on the corpus folder (recordings/ inside)."""
    from seqlab.data.fsdd import write_manifests

    return write_manifests(Path(directory))
