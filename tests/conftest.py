import os

import pytest
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
