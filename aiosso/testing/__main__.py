"""Entry point of ``python -m aiosso.testing`` (see :func:`aiosso.testing._cli.main`)."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
