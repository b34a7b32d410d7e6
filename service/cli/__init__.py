"""The `followup` command line: a thin layer over the library. Every command takes --db."""

from __future__ import annotations

import sys

from .app import app
from . import feeds as _feeds  # noqa: F401  (registers commands)
from . import topics as _topics  # noqa: F401
from . import matches as _matches  # noqa: F401
from . import service as _service  # noqa: F401
from . import stories as _stories  # noqa: F401
from . import digest as _digest  # noqa: F401
from . import alerts as _alerts  # noqa: F401


def main() -> None:
    app(prog_name="followup")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
