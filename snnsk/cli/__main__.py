"""``python -m snnsk.cli``: the same as the ``snnsk`` command."""

from .main import main

raise SystemExit(main())
