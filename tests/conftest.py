"""Fixtures shared by the test modules."""

import os

import pytest
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _share_cores_between_xdist_workers():
    """Give each pytest-xdist worker its share of the cores for BLAS.

    Several workers each running one BLAS thread per core oversubscribe the
    machine and make the suite many times slower.
    """
    n_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    with threadpool_limits(max(1, (os.cpu_count() or 1) // n_workers)):
        yield


@pytest.fixture(scope="module")
def iris():
    """Standardised iris ``(X, y)``: 150 rows, 4 features, 3 classes.

    Built once per test module; a test must not modify the arrays in place.
    """
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def wide_console(monkeypatch):
    """A rich console of 200 columns, made for this test and then dropped.

    rich makes one console per process on first use and fixes its width
    then (from ``COLUMNS`` or the terminal): a progress bar drawn by an
    earlier test in the same worker would otherwise set the width, and cut
    the lines a later test reads.
    """
    rich = pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(rich, "_console", None)
