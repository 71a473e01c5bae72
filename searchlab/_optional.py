"""Import optional heavy dependencies with an error that says which extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from searchlab.errors import DependencyError


def require(module: str, extra: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"this feature needs the Python package '{module}', which is not installed",
            hint=f"install it with: pip install 'searchlab[{extra}]' (or run make install)",
        ) from exc
