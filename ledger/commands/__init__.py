"""The client commands of ``ledger`` (DESIGN 7): post, verify, audit, report, export, demo.

One module per command, each with ``NAME``, ``add_parser(subparsers)`` and ``run(args)``.
``ledger.cli`` calls :func:`install` with its registry; nothing here imports
``ledger.cli`` (which may be running as ``__main__``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

COMMAND_MODULES = ("post", "verify", "audit", "report", "export", "demo")


def install(commands: dict[str, Callable[[argparse.Namespace], int]],
            extra_parsers: list[Callable[[Any], None]]) -> None:
    """Register every client command into the CLI's registry (idempotent)."""
    import importlib

    for name in COMMAND_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        if module.NAME in commands:
            continue
        commands[module.NAME] = module.run
        extra_parsers.append(module.add_parser)
