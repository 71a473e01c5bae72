"""Printing helpers shared by every CLI module."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    """One line on stderr: what went wrong and how to fix it."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", markup=True)


def print_warning(message: str) -> None:
    err_console.print(f"[bold yellow]warning:[/] {escape(message)}", markup=True)


def print_json(obj: Any) -> None:
    """Strict JSON on stdout, one object, nothing else (so it pipes into jq)."""
    from searchlab._json import dumps

    print(dumps(obj, indent=2))
