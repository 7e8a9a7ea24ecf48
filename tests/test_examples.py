"""Run every gallery example, as a user would, and check it draws a figure."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Each example is a subprocess of several seconds: the slow tier.
pytestmark = pytest.mark.slow

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_example_runs(example, tmp_path):
    """The example exits cleanly and saves at least one PNG in its cwd."""
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        # pytest-xdist already runs one process per core: threaded BLAS on
        # small matrices would oversubscribe them and run many times slower.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("*.png")), f"{example.name} saved no PNG"
