"""The README's Quick start, CI, the package metadata and the pytest
configuration stay consistent."""

import ast
import configparser
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import skbnnet
from skbnnet import _compat

ROOT = Path(__file__).resolve().parents[1]


def _quick_start_commands():
    readme = (ROOT / "README.rst").read_text()
    section = readme.split("Quick start\n===========\n", 1)[1].split("\n=", 1)[0]
    block = section.split(".. code-block:: bash\n\n", 1)[1].split("\n\n", 1)[0]
    # A command may carry a shell comment.
    return [line.split("#", 1)[0].strip() for line in block.splitlines()]


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


_CONFIGURE_WARNING_PLUGIN = """
import warnings

import pytest


def pytest_configure(config):
    warnings.warn(pytest.PytestWarning("a plugin warns while pytest configures"))
"""

_WARNING_TESTS = """
import warnings


def test_user_warning():
    warnings.warn("the code under test warns", UserWarning)


def test_unraisable_exception():
    class Broken:
        def __del__(self):
            raise RuntimeError("raised in __del__")

    Broken()


def test_quiet():
    pass
"""


def test_plugin_warnings_do_not_stop_the_run(tmp_path):
    """A plugin that warns while pytest configures (pytest-benchmark does under
    pytest-xdist) gets no INTERNALERROR from the project's pytest settings,
    while a warning or an unraisable exception in the code under test still
    fails its test."""
    (tmp_path / "configure_warning_plugin.py").write_text(_CONFIGURE_WARNING_PLUGIN)
    (tmp_path / "test_warnings.py").write_text(_WARNING_TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ROOT / "pyproject.toml"),
        "--rootdir",
        str(tmp_path),
        "-p",
        "configure_warning_plugin",
        "-p",
        "no:cacheprovider",
        "test_warnings.py",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    output = result.stdout + result.stderr
    assert "INTERNALERROR" not in output, output
    assert "a plugin warns while pytest configures" in output
    assert re.search(r"\b2 failed, 1 passed\b", output), output


def _private_sklearn_imports(path):
    """``module:name`` of each import in `path` of a private scikit-learn
    module (a path component starting with ``_``) or a private name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            pairs = [(node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            pairs = [(alias.name, "") for alias in node.names]
        else:
            continue
        for module, name in pairs:
            parts = module.split(".")
            if parts[0] != "sklearn":
                continue
            if any(part.startswith("_") for part in [*parts, name]):
                found.append(f"{module}:{name}")
    return found


def _outside_compat(find):
    """``{module: what find reports}`` for skbnnet's modules but _compat.py."""
    package = Path(skbnnet.__file__).parent
    return {
        str(path.relative_to(package)): found
        for path in sorted(package.rglob("*.py"))
        if path.name != "_compat.py" and (found := find(path))
    }


def test_private_sklearn_imports_only_in_compat():
    """skbnnet imports scikit-learn's private helpers only in _compat.py, so a
    scikit-learn release that moves one breaks a single file."""
    assert _outside_compat(_private_sklearn_imports) == {}
    compat = Path(skbnnet.__file__).parent / "_compat.py"
    assert _private_sklearn_imports(compat)


# Underscored names that scikit-learn documents for estimator developers.
_DOCUMENTED_PRIVATE = {"_parameter_constraints", "_run_search"}


def _private_sklearn_attributes(path):
    """``name.attribute`` of each private attribute that `path` reads or
    writes on something imported from scikit-learn or from _compat,
    with a dot or through getattr, setattr or delattr."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module.startswith("sklearn") or node.module.endswith("_compat"))
        ):
            imported.update(alias.asname or alias.name for alias in node.names)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner, attribute = node.value.id, node.attr
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "delattr", "hasattr"}
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            owner, attribute = node.args[0].id, node.args[1].value
        else:
            continue
        if (
            owner in imported
            and attribute.startswith("_")
            and not attribute.startswith("__")
            and attribute not in _DOCUMENTED_PRIVATE
        ):
            found.append(f"{owner}.{attribute}")
    return found


def test_private_sklearn_attributes_only_in_compat():
    """Outside _compat.py, skbnnet reads no private attribute of what it
    imports from scikit-learn or _compat, and _compat exports no module: a
    private module handed out would let any file depend on its names."""
    assert _outside_compat(_private_sklearn_attributes) == {}
    exported = [getattr(_compat, name) for name in _compat.__all__]
    assert not [value for value in exported if inspect.ismodule(value)]


def test_import_leaves_scikit_learn_untouched():
    """import skbnnet patches nothing in scikit-learn: its fit-failure check
    is swapped only while a CoarseToFineSearchCV fits, then put back."""
    code = (
        "import sklearn.model_selection._search as s\n"
        "before = s._warn_or_raise_about_fit_failures\n"
        "import skbnnet\n"
        "assert s._warn_or_raise_about_fit_failures is before\n"
        "print('untouched')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "untouched", result.stderr


def test_warnings_carry_stacklevel():
    """Every warnings.warn in skbnnet passes stacklevel, so that a warning
    points at the user's call rather than at skbnnet's internals."""
    package = Path(skbnnet.__file__).parent
    missing = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            if name == "warn" and not any(
                keyword.arg == "stacklevel" for keyword in node.keywords
            ):
                missing.append(f"{path.relative_to(package)}:{node.lineno}")
    assert missing == []


def test_changelog_names_the_version():
    """CHANGELOG.md keeps an Unreleased section on top, and its newest release
    is the package's version (skbnnet/_version.py, read by pyproject.toml)."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(
        r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", changelog, re.M
    )
    assert headings[0] == ("Unreleased", "")
    version, date = headings[1]
    assert version == skbnnet.__version__
    assert date, "a released version carries its date"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"]


def _pins(path):
    """``name -> version`` of the ``name==version`` lines of a pip file."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_oldest_ci_environment_pins_the_floors():
    """.ci/oldest.txt, which CI installs on the oldest Python, pins every
    dependency at pyproject.toml's floor: no floor is claimed untested."""
    from packaging.version import Version

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for requirement in project["dependencies"]:
        name, floor = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([\d.]+)", requirement).groups()
        floors[name.lower()] = floor
    pins = _pins(ROOT / ".ci" / "oldest.txt")
    assert set(pins) == set(floors)
    assert {name: Version(pins[name]) for name in pins} == {
        name: Version(floor) for name, floor in floors.items()
    }
    oldest_python = re.fullmatch(r">=(3\.\d+)", project["requires-python"]).group(1)
    assert (
        f"Programming Language :: Python :: {oldest_python}" in project["classifiers"]
    )
    assert (
        f"/versions/{oldest_python}*/bin/python{oldest_python}"
        in (ROOT / ".ci" / "run").read_text()
    )


def test_pre_commit_runs_the_ruff_ci_pins():
    """The pre-commit hooks run the ruff release that the test extra pins."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pin,) = [r for r in project["optional-dependencies"]["test"] if "ruff" in r]
    config = (ROOT / ".pre-commit-config.yaml").read_text()
    assert re.search(r"rev: v(\S+)", config).group(1) == pin.split("==")[1]
