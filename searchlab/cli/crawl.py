"""CLI for the crawl job (being built; see its issue)."""

from __future__ import annotations

import typer


def register(root: typer.Typer) -> None:
    """Add this job's commands to the root app."""
