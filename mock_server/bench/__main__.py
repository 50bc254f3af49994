"""``python -m mock_server.bench``: the same command as ``scalekit-mock bench``."""

from __future__ import annotations

import sys

from .command import main

if __name__ == "__main__":
    sys.exit(main())
