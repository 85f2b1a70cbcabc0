"""Open a language model for decoding from a path: an n-gram file or a Hugging Face directory.

``load_lm`` picks the back end from what the path is (a directory with ``config.json``: neural;
a file: n-gram); ``open_lm`` does the same once per process for the decoder configs, which name
the same LM for every configuration they compare. The back ends are imported only when chosen,
so a pure n-gram install never imports ``transformers`` and a neural one never needs ``kenlm``.
"""

from __future__ import annotations

from pathlib import Path

from seqlab.decoding.lm.interface import LanguageModel

_LM_CACHE: dict[tuple, LanguageModel] = {}


def load_lm(path: str | Path, **kwargs) -> LanguageModel:
    """Open a language model for fusion: an ARPA file, a KenLM binary, or a Hugging Face directory.

    Args:
        path: ``*.arpa`` (optionally gzipped) or a KenLM binary file; or a directory with a
            Hugging Face causal LM (``config.json`` + weights + tokenizer), such as the ``hf/``
            folder that ``seqlab train lm_gpt2_small`` writes into each checkpoint, or GPT-2.
        kwargs: passed to the back end (e.g. ``device`` and ``batch_size`` for neural LMs).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"language model {path} does not exist; build one with `seqlab lm build-ngram TEXT "
            "--order 3 --out lm.arpa` or train one with `seqlab train lm_gpt2_small`"
        )
    if path.is_dir():
        hf_dir = path / "hf" if (path / "hf" / "config.json").is_file() else path
        if not (hf_dir / "config.json").is_file():
            raise ValueError(
                f"{path} is a directory without config.json: not a Hugging Face model directory "
                "(pass the directory that holds config.json, or a checkpoint with an hf/ folder)"
            )
        from seqlab.decoding.lm.neural import HFCausalLM

        return HFCausalLM(hf_dir, **kwargs)
    from seqlab.decoding.lm.ngram import NGramLM

    return NGramLM(path, **kwargs)


def open_lm(path: str | Path, device: str = "cpu", batch_size: int = 64) -> LanguageModel:
    """Load (once per process) the LM at ``path``; n-gram files and HF directories alike.

    ``device`` and ``batch_size`` apply to neural LMs (directories) only.
    """
    path = Path(path).expanduser().resolve()
    kwargs = {"device": device, "batch_size": batch_size} if path.is_dir() else {}
    key = (str(path), tuple(sorted(kwargs.items())))
    if key not in _LM_CACHE:
        _LM_CACHE[key] = load_lm(path, **kwargs)
    return _LM_CACHE[key]
