"""LibriSpeech-layout chapters written by hand from a few eSpeak sentences (not by seqlab's own
corpus writer), for the tests of reading, training on and scoring that layout."""

import numpy as np
import soundfile as sf

from seqlab.corpora.espeak import ESPEAK_SAMPLE_RATE, synthesize

SENTENCES = [
    "turn on the kitchen lights",
    "the meeting starts at nine",
    "please call my sister tomorrow",
    "it is cold and windy today",
    "open the front door",
    "set a timer for ten minutes",
]


def write_librispeech(root, subset, speaker, chapter, sentences, rate, voice="en-us"):
    """One LibriSpeech chapter by hand: <root>/<subset>/<spk>/<chapter>/<spk>-<chapter>-NNNN.flac + trans.txt."""
    folder = root / subset / str(speaker) / str(chapter)
    folder.mkdir(parents=True)
    lines = []
    for i, text in enumerate(sentences):
        utt = f"{speaker}-{chapter}-{i:04d}"
        wave = synthesize(text, voice=voice)
        if (
            rate != ESPEAK_SAMPLE_RATE
        ):  # plain linear interpolation: deliberately not seqlab's resampler
            t = np.arange(int(len(wave) * rate / ESPEAK_SAMPLE_RATE)) / rate
            wave = np.interp(t, np.arange(len(wave)) / ESPEAK_SAMPLE_RATE, wave)
        sf.write(folder / f"{utt}.flac", wave.astype(np.float32), rate, subtype="PCM_16")
        lines.append(f"{utt} {text.upper()}")
    (folder / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
