"""``python -m segwidget.server``: the same as ``segwidget serve``."""

import sys

from .serve import main

sys.exit(main())
