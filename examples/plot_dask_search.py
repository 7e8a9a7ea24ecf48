"""
Running a search on a dask cluster
==================================

A hyperparameter search is many independent fits, so it spreads over a
cluster with no change to the search itself: scikit-learn runs its fits
through joblib, and joblib's ``"dask"`` backend hands them to the workers of
a :class:`dask.distributed.Client`. Here the cluster is a
:class:`~dask.distributed.LocalCluster` of two single-threaded worker
processes on this machine; we run the same search locally and on the
cluster, and check that they find the same scores.
"""

import time
import warnings

import joblib
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, LogUniform, OneMinusLogUniform
from skbnnet.plotting import SearchResultsDisplay

# Save figures to files instead of opening windows.
matplotlib.use("Agg")
# 30 epochs is a deliberately small budget per candidate.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
search = RandomizedSearchCV(
    make_pipeline(
        StandardScaler(),
        BatchNormMLPClassifier(
            # Not what this example shows, and on pixels about 15 times slower:
            # no numeric embedding.
            numeric_embedding=None,
            hidden_layer_sizes=(64,),
            batch_size=64,
            max_iter=30,
            random_state=0,
        ),
    ),
    {
        "batchnormmlpclassifier__learning_rate_init": LogUniform(1e-4, 1),
        "batchnormmlpclassifier__beta_1": OneMinusLogUniform(0.9, 0.999),
    },
    n_iter=8,
    cv=3,
    random_state=0,
)

# %%
# The search on this machine
# --------------------------
# ``n_jobs=None`` runs the 24 fits one after the other in this process.
start = time.perf_counter()
local_search = clone(search).fit(X, y)
print(f"Local search: {time.perf_counter() - start:.1f} s")

# %%
# The same search on a dask cluster
# ---------------------------------
# ``n_jobs=-1`` lets joblib use every worker of the cluster. The workers here
# are threads of this process (``processes=False``), which keeps the example
# self-contained: a script that starts worker processes must guard its code
# with ``if __name__ == "__main__":``, as :mod:`multiprocessing` requires. To
# use a real cluster, connect the client to its scheduler instead of starting
# a local one::
#
#     client = Client("tcp://scheduler-address:8786")
with (
    LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        host="127.0.0.1",
        scheduler_port=0,
        # A free port for the scheduler's HTTP server, not the default 8787.
        dashboard_address=":0",
    ) as cluster,
    Client(cluster) as client,
):
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        dask_search = clone(search).set_params(n_jobs=-1).fit(X, y)
    elapsed = time.perf_counter() - start
    n_workers = len(client.scheduler_info()["workers"])
print(f"Dask search on {n_workers} workers: {elapsed:.1f} s")

# %%
# Same results
# ------------
# Each candidate's model is seeded by its `random_state`, so where a fit runs
# does not change it: the two searches score every candidate identically and
# pick the same best parameters.
local_scores = local_search.cv_results_["mean_test_score"]
dask_scores = dask_search.cv_results_["mean_test_score"]
np.testing.assert_array_equal(local_scores, dask_scores)
assert local_search.best_params_ == dask_search.best_params_
print(f"Identical scores: {np.array_equal(local_scores, dask_scores)}")
for name, value in dask_search.best_params_.items():
    print(f"Best {name.split('__')[-1]}: {value:.4g}")
print(f"Best cross-validated accuracy: {dask_search.best_score_:.4f}")

fig, (ax_scores, ax_lr) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax_scores.scatter(local_scores, dask_scores)
limits = [local_scores.min(), local_scores.max()]
ax_scores.plot(limits, limits, color="gray", linestyle=":", label="y = x")
ax_scores.set(
    xlabel="Mean test score, local",
    ylabel="Mean test score, dask",
    title="Each candidate's score",
)
ax_scores.legend()
SearchResultsDisplay.from_search(dask_search, "learning_rate_init", ax=ax_lr)
ax_lr.set_title("Dask search: accuracy against the learning rate")
fig.savefig("plot_dask_search.png")

# %%
# On two cores the cluster saves little time over the local run: starting
# worker processes and shipping tasks has a cost that a few fits of a small
# network barely repay. The gain comes with many candidates, larger models,
# and a cluster with more cores than this machine.
