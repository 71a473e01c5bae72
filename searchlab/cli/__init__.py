"""The ``searchlab`` command line: parsing, printing and exit codes, nothing else.

Each job's commands live in their own module here and register themselves on the root
app. Start-up is part of the interface (``searchlab ab test`` should answer in well under a
second), so ``run`` imports only the module that owns the command being run: ``searchlab ab
...`` never imports the rank, text or serve modules, let alone PyTorch. ``--help`` at the
root, or an unknown command, registers them all. Heavy libraries are imported inside the
commands.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer

from searchlab import __version__
from searchlab.cli._common import print_error
from searchlab.errors import SearchlabError

#: Top-level command -> the module under ``searchlab.cli`` whose ``register`` adds it.
#: tests/test_cli.py checks this table against what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "ab": "ab",
    "crawl": "crawl",
    "rank": "rank",
    "text": "text",
    "search": "text",
    "site": "loop",
    "simulate": "loop",
    "demo": "loop",
    "index": "serve",
    "serve": "serve",
    "events": "serve",
}
_MODULE_ORDER = ("ab", "crawl", "rank", "text", "loop", "serve")  # the order in --help

_HELP = "Crawl a corpus, learn to rank it, and prove the new ranker wins with an A/B test."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"searchlab {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Crawl a corpus, learn to rank it, and prove the new ranker wins with an A/B test."""


def build_app(argv: Sequence[str] = ()) -> typer.Typer:
    """The root app with the commands that ``argv`` needs (all of them when unsure)."""
    app = typer.Typer(
        name="searchlab",
        help=_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    wanted = COMMAND_MODULES.get(first or "")
    for name in (wanted,) if wanted else _MODULE_ORDER:
        importlib.import_module(f"searchlab.cli.{name}").register(app)
    return app


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (tests call this directly)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = build_app(args)(args=args, prog_name="searchlab", standalone_mode=False)
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
