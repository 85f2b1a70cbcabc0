"""Language models for decoding: CTC shallow fusion and n-best rescoring.

- :mod:`~seqlab.decoding.lm.interface`: the word-level :class:`LanguageModel` protocol every back
  end implements (imports no back end).
- :mod:`~seqlab.decoding.lm.loading`: ``load_lm`` / ``open_lm`` pick the back end for a path.
- :mod:`~seqlab.decoding.lm.ngram`: ARPA / KenLM binary models queried with ``kenlm``.
- :mod:`~seqlab.decoding.lm.neural`: a Hugging Face causal LM (e.g. ``seqlab train lm_gpt2_small``).
- :mod:`~seqlab.decoding.lm.kneser_ney`: estimates the ARPA files (``seqlab lm build-ngram``).

The package names its public entry points here (``from seqlab.decoding.lm import load_lm``);
the modules below it import each other only downwards (interface <- back ends <- loading).
"""

from seqlab.decoding.lm.interface import LanguageModel, State, sentence_scores_by_words
from seqlab.decoding.lm.loading import load_lm, open_lm

__all__ = ["LanguageModel", "State", "load_lm", "open_lm", "sentence_scores_by_words"]
