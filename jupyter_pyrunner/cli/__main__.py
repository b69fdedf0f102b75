"""``python -m jupyter_pyrunner.cli``: the ``pyrunner`` command."""

import sys

from . import main

sys.exit(main())
