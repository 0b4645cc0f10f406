"""``python -m jobdeck``: the same as the ``jobdeck`` command."""

import sys

from jobdeck.cli import main

sys.exit(main())
