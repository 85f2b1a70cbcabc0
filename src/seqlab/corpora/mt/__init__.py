"""The built-in German→English parallel corpus: :mod:`.lexicon` (words and inflection),
:mod:`.numbers`, :mod:`.noun_phrases`, :mod:`.clauses` and :mod:`.sentences` (the grammar), and
:mod:`.corpus` (drawing distinct pairs and writing the splits: :func:`.corpus.build_mt_corpus`)."""
