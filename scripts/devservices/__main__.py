"""`python -m scripts.devservices run | exec -- CMD... | clean`, from the repo root."""

import sys

from .commands import main

sys.exit(main(sys.argv[1:]))
