"""The built-in corpora, generated offline and deterministically: eSpeak NG speech in the
LibriSpeech layout (:mod:`.synth_speech`), one voice in the LJSpeech layout (:mod:`.synth_ljspeech`),
other languages in the OpenSLR layout (:mod:`.synth_speech_lang`), and the German→English
parallel corpus from a grammar and a lexicon (:mod:`.mt`). Readers of real corpora live in
:mod:`seqlab.data`."""
