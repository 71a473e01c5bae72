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
    assert "No such command" in capsys.readouterr().err


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
