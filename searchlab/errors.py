"""The one exception hierarchy of searchlab.

Library code raises these and never prints or exits; the CLI turns them into a one-line
message and an exit code. Every message names the problem; ``hint`` names the fix.
"""

from __future__ import annotations


class SearchlabError(Exception):
    """Base of every error searchlab raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class InputError(SearchlabError):
    """The user's input (arguments, files, values) is wrong; exit code 2."""

    exit_code = 2


class DataFormatError(InputError):
    """A file is malformed; carries where, so the user can open it at the right line."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message, hint=hint)
        self.path = path
        self.line = line


class OutputError(InputError):
    """An output location cannot be written or already holds something else."""


class DependencyError(SearchlabError):
    """An optional extra is needed for this feature but is not installed."""

    exit_code = 2


class CrawlAborted(SearchlabError):
    """A crawl stopped early on purpose (``--fail-fast`` or a signal)."""

    exit_code = 1


class ModelError(SearchlabError):
    """Training or scoring could not proceed (diverged, empty data after filtering...)."""

    exit_code = 1


class RequestError(InputError):
    """A request to the live service is malformed or names something unknown: HTTP ``status``
    (4xx) with this message; the service never answers it with a 500."""

    def __init__(self, message: str, *, status: int = 400, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ServiceBusy(SearchlabError):
    """The service's bounded event queue is full: HTTP 503 with Retry-After."""

    exit_code = 1
