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
from searchlab.cli import ab, crawl, loop, rank, serve, text
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


for _module in (ab, crawl, rank, text, loop, serve):
    _module.register(app)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="searchlab", standalone_mode=False)
    except SearchlabError as exc:
        print_error(str(exc))
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted")
        return 130
    except typer.TyperException as exc:
        return _usage_error(exc)
    return result if isinstance(result, int) else 0


def _usage_error(exc: typer.TyperException) -> int:
    """Typer's usage errors as one line naming the command whose --help explains it."""
    exit_code = getattr(exc, "exit_code", 2)
    if type(exc).__name__ == "NoArgsIsHelpError":
        exc.show()  # a bare group: its help is the helpful answer
        return exit_code
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "searchlab"
    message = exc.format_message().rstrip(".")
    print_error(f"{message} — see '{command} --help'")
    return exit_code


def main() -> None:
    sys.exit(run())
