"""Run the ``skbnnet`` command: ``python -m skbnnet``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
