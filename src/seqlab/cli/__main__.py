"""``python -m seqlab.cli ...`` (e.g. under ``torchrun``): the ``seqlab`` command."""

import sys

from seqlab.cli.parser import main

sys.exit(main())
