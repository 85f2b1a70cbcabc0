"""The ``seqlab`` command (console script ``seqlab = seqlab.cli:main``; ``python -m seqlab.cli``).

One module per command family, each thin (parse, call the library, print): ``train``
(list, train, sweep, average), ``evaluate`` (eval, tune-decoder, report, compare), ``infer``
(transcribe, translate, vocode, export), ``data`` (data ..., lm build-ngram), ``demo``, ``serve``;
``common`` holds what several share, ``parser`` the command line itself and its usage text.
"""

from seqlab.cli.parser import build_parser, main, parse_args

__all__ = ["build_parser", "main", "parse_args"]
