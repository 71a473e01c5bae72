"""The ``searchlab`` command line: parsing, printing and exit codes, nothing else.

Each job's commands live in their own module here and register themselves on the root
app; heavy libraries are imported inside the commands, so ``searchlab ab`` never loads
PyTorch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from searchlab import __version__
from searchlab.cli import ab, crawl, loop, rank, text
from searchlab.cli._common import print_error
from searchlab.errors import SearchlabError

app = typer.Typer(
    name="searchlab",
    help="Crawl a corpus, learn to rank it, and prove the new ranker wins with an A/B test.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"searchlab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Crawl a corpus, learn to rank it, and prove the new ranker wins with an A/B test."""


for _module in (ab, crawl, rank, text, loop):
    _module.register(app)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        app(args=args, prog_name="searchlab")
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    except SearchlabError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    return 0


def main() -> None:
    sys.exit(run())
