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
