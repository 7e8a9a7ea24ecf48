"""Smoke test of an installed skbnnet wheel, run by .ci/run as a user would:
from a directory outside the checkout, in a virtualenv holding only the wheel
(and its onnx extra, if installed).

Usage: python smoke.py CHECKOUT

Checks that skbnnet is imported from the virtualenv, not from CHECKOUT; that
both estimators fit and predict; that ``skbnnet tune --time 5`` runs; and,
when skl2onnx and onnxruntime are installed, that an ONNX export of each
estimator predicts as the estimator does.
"""

import importlib.util
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def check_installed(checkout):
    import skbnnet
    from skbnnet import _fused

    location = Path(skbnnet.__file__).resolve()
    assert checkout not in location.parents, f"skbnnet imported from {location}"
    assert "site-packages" in location.parts, location
    assert skbnnet.__version__ == version("skbnnet"), skbnnet.__version__
    print(f"skbnnet {skbnnet.__version__} from {location.parent}")
    print(f"kernels: {Path(_fused.__file__).name}")


def fit_both():
    from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor

    X, y = load_iris(return_X_y=True)
    clf = make_pipeline(
        StandardScaler(), BatchNormMLPClassifier(max_iter=50, random_state=0)
    ).fit(X, y)
    accuracy = accuracy_score(y, clf.predict(X))
    assert accuracy > 0.9, accuracy
    assert clf.predict_proba(X).shape == (150, 3)
    print(f"BatchNormMLPClassifier: training accuracy {accuracy:.3f} on iris")

    X, y = load_diabetes(return_X_y=True)
    reg = make_pipeline(
        StandardScaler(), BatchNormMLPRegressor(max_iter=50, random_state=0)
    ).fit(X, y)
    r2 = r2_score(y, reg.predict(X))
    assert r2 > 0.3, r2
    print(f"BatchNormMLPRegressor: training R2 {r2:.3f} on diabetes")
    return clf, reg, X


def tune():
    script = Path(sys.executable).with_name("skbnnet")
    start = time.perf_counter()
    proc = subprocess.run(
        [str(script), "tune", "--time", "5"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for line in proc.stdout.splitlines():
        if line.startswith(("Search:", "CV ", "Test ", "Wall ")):
            print(f"  {line}")
    assert "Test accuracy:" in proc.stdout
    print(f"skbnnet tune --time 5: {time.perf_counter() - start:.1f} s wall")


def export_onnx(clf, reg, X_reg):
    if not all(importlib.util.find_spec(m) for m in ["skl2onnx", "onnxruntime"]):
        print("ONNX: skl2onnx or onnxruntime not installed, skipped")
        return
    import onnxruntime as rt
    from skl2onnx import to_onnx

    import skbnnet.onnx  # noqa: F401  (registers the converters)

    X_clf = load_iris(return_X_y=True)[0].astype(np.float32)
    cases = [
        (clf, X_clf, {"zipmap": False}, lambda out: out[1], clf.predict_proba),
        (reg, X_reg.astype(np.float32), None, lambda out: out[0], reg.predict),
    ]
    for model, X, options, pick, reference in cases:
        onx = to_onnx(model, X[:1], options=options)
        session = rt.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        got = np.ravel(pick(session.run(None, {"X": X})))
        want = np.ravel(reference(X))
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.std(want))
        print(f"ONNX: {type(model[-1]).__name__} export matches")


def main():
    checkout = Path(sys.argv[1]).resolve()
    assert checkout not in Path.cwd().resolve().parents and checkout != Path.cwd()
    check_installed(checkout)
    clf, reg, X_reg = fit_both()
    export_onnx(clf, reg, X_reg)
    tune()
    print("smoke test passed")


if __name__ == "__main__":
    main()
