"""``python -m aiosso``: the ``aiosso`` command."""

import sys

from aiosso.cli import main

sys.exit(main())
