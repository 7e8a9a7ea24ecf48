"""The README's Quick start, CI and the package metadata stay consistent."""

import configparser
import re
import subprocess
import sys
from pathlib import Path

import tomllib

import skbnnet

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    readme = (ROOT / "README.rst").read_text()
    section = readme.split("Quick start\n===========\n", 1)[1].split("\n=", 1)[0]
    block = section.split(".. code-block:: bash\n", 1)[1]
    return [line.strip() for line in block.splitlines() if line.startswith("    ")]


def test_quick_start_has_two_commands_and_ci_runs_the_second():
    """CI runs exactly the test command the README gives."""
    tune, tests = _quick_start_commands()
    assert tune.endswith("skbnnet tune")
    test_command = tests.split("&&")[-1].strip()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in [line.strip() for line in ci_lines]


def test_metadata_declared_once():
    """Package metadata lives in pyproject.toml only, not in setup.cfg."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert not {"metadata", "options"} & set(config.sections())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "skbnnet"
    assert set(project["optional-dependencies"]) >= {
        "test",
        "plot",
        "distributed",
        "benchmark",
    }
    assert re.fullmatch(r"\d+\.\d+\.\d+", skbnnet.__version__)


def test_missing_extension_names_the_fix():
    """Importing skbnnet without its built kernels says how to build them."""
    code = (
        "import sys; sys.modules['skbnnet._fused'] = None\n"
        "try:\n"
        "    import skbnnet\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
    )
    assert "compiled kernels (skbnnet._fused) are not built" in result.stdout
    assert "pip install" in result.stdout
