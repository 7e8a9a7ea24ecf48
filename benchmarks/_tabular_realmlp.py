"""Fit RealMLP-TD (pytabkit) on arrays that ``bench_tabular.py`` hands over.

Run by ``bench_tabular.py`` with the Python of a separate virtual
environment (pytabkit pulls PyTorch Lightning and pins pandas below 3, so it
is never a dependency of skbnnet or of its development environment)::

    python _tabular_realmlp.py INPUT.npz OUTPUT.npz

``INPUT.npz`` holds the preprocessed ``X_train``, ``y_train`` (class codes
0 to k - 1, or floats), ``X_test``, the ``task`` ("classification" or
"regression"), the ``seed`` and ``n_threads``. ``OUTPUT.npz`` receives
``y_pred``, ``fit_seconds`` and ``predict_seconds`` (wall time of
``fit`` and ``predict`` alone, without starting Python and importing torch)
and ``versions`` (a JSON string). This module imports nothing of skbnnet or
of the benchmarks: the other environment has neither.
"""

import json
import sys
import time

import numpy as np


def fit_predict(X_train, y_train, X_test, task, seed, n_threads):
    """Fit the RealMLP-TD default on the training arrays, predict the test rows.

    Returns
    -------
    y_pred : ndarray of shape (n_test,)
    fit_seconds, predict_seconds : float
    """
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    model_class = (
        RealMLP_TD_Classifier if task == "classification" else RealMLP_TD_Regressor
    )
    model = model_class(device="cpu", n_threads=n_threads, random_state=seed)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = np.asarray(model.predict(X_test)).reshape(-1)
    return y_pred, fit_seconds, time.perf_counter() - start


def _versions():
    import pytabkit
    import sklearn
    import torch

    return {
        "python": sys.version.split()[0],
        "pytabkit": getattr(pytabkit, "__version__", "unknown"),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def main(argv=None):
    source, destination = sys.argv[1:] if argv is None else argv
    with np.load(source) as data:
        arrays = {key: data[key] for key in data.files}
    y_pred, fit_seconds, predict_seconds = fit_predict(
        arrays["X_train"],
        arrays["y_train"],
        arrays["X_test"],
        task=str(arrays["task"]),
        seed=int(arrays["seed"]),
        n_threads=int(arrays["n_threads"]),
    )
    np.savez(
        destination,
        y_pred=y_pred,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        versions=json.dumps(_versions()),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
