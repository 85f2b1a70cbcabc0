"""The bilingual German/English lexicon of the built-in MT corpus, and the morphology it needs.

Ours because no library ships a small, regular German/English lexicon with genders, plurals and
verb forms that a generator can inflect offline: German articles, adjective endings (strong, weak,
mixed), weak nouns, dative plurals, present-tense conjugation with stem changes and separable
prefixes, and the English articles (a/an), plurals and verb forms that translate them.

One module per word class: :mod:`.determiners` (articles, possessives, adjective endings, a/an),
:mod:`.nouns`, :mod:`.adjectives`, :mod:`.verbs` (conjugation, valency, modals) and
:mod:`.names` (first names, destinations, months, weekdays).

Everything is lowercase. Multi-word English entries use "_" for spaces in the tables.
"""
