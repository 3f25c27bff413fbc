"""The ``snnsk`` command: the parser and entry point (:mod:`~snnsk.cli.main`), the commands, data
I/O, parameter parsing, errors and the demo.
"""

from .main import build_parser, main

__all__ = ["main", "build_parser"]
