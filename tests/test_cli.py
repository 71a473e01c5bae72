from __future__ import annotations

import subprocess
import sys

from searchlab import __version__
from searchlab.cli import run


def test_version(capsys):
    assert run(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    assert run(["no-such-job"]) == 2
    err = capsys.readouterr().err
    assert "No such command" in err and len(err.strip().splitlines()) == 1


def test_python_dash_m_runs_the_cli():
    done = subprocess.run(
        [sys.executable, "-m", "searchlab", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for job in ("ab", "crawl", "rank", "text"):
        assert job in done.stdout


def test_core_cli_does_not_import_torch():
    code = "import sys, searchlab.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_usage_errors_are_one_line_naming_the_help(capsys):
    assert run(["ab", "test", "--control", "1/2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "--variant" in err[0] and "searchlab ab test --help" in err[0]


def test_command_table_matches_what_the_modules_register():
    import importlib

    import typer

    from searchlab.cli import _MODULE_ORDER, COMMAND_MODULES

    for module in _MODULE_ORDER:
        app = typer.Typer()
        importlib.import_module(f"searchlab.cli.{module}").register(app)
        names = {group.name for group in app.registered_groups}
        names |= {command.name for command in app.registered_commands}
        owned = {name for name, owner in COMMAND_MODULES.items() if owner == module}
        assert names == owned, module


def test_ab_command_imports_only_its_own_cli_module():
    code = (
        "import sys; from searchlab.cli import run; "
        "code = run(['ab', 'test', '--control', '3/6', '--variant', '4/6', '--json']); "
        "loaded = sorted(m for m in sys.modules if m.startswith('searchlab.cli.')); "
        "heavy = [m for m in ('torch', 'pandas', 'statsmodels', 'pydantic') if m in sys.modules]; "
        "print(code, loaded, heavy, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "0 ['searchlab.cli._common', 'searchlab.cli.ab'] []"
