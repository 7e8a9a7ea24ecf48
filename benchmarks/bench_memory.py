"""Peak memory of ``fit`` relative to the size of X.

Each configuration runs in a fresh Python process (this file with
``--child``), so earlier allocations cannot hide a peak. The child builds X,
does a tiny warm-up fit (lazy imports), then:

1. the resident high-water mark around one fit: on Linux the kernel's
   ``VmHWM`` is reset (``/proc/self/clear_refs``) just before the fit and
   read after it, minus the resident size before it. (``ru_maxrss`` is also
   recorded, but Linux carries it over from the parent across fork and exec,
   so a child of a large benchmark process starts with the parent's peak; it
   is used only where /proc is missing);
2. a second fit under ``tracemalloc`` (NumPy reports its buffers to it): the
   peak of memory allocated during the fit and not freed before the peak.

The budget a fit should stay within is one copy of X (a validation split
or a dtype cast) + per-batch work arrays + the parameters, their gradient
and the optimiser state + index arrays; its components are printed.
"""

import json
import os
import subprocess
import sys

import numpy as np
from _common import blas_threads, emit, markdown_table
from bench_training import hidden_for

HERE = os.path.dirname(os.path.abspath(__file__))


def configurations(quick):
    base = dict(
        n_samples=1000 if quick else 20000,
        n_features=784,
        n_classes=10,
        hidden=list(hidden_for(quick)),
        batch_size=128,
        epochs=1 if quick else 2,
        blas_threads=blas_threads(),
    )
    configs = [
        dict(base, name="skbnnet float32", estimator="skbnnet", dtype="float32"),
        dict(
            base,
            name="skbnnet float32 early_stopping",
            estimator="skbnnet",
            dtype="float32",
            early_stopping=True,
        ),
        dict(base, name="skbnnet float64", estimator="skbnnet", dtype="float64"),
        dict(base, name="sklearn MLP float32", estimator="sklearn", dtype="float32"),
    ]
    # Quick mode exercises both estimators, not every variant.
    return [configs[0], configs[-1]] if quick else configs


def budget(cfg):
    """Expected extra bytes of a fit, by component (skbnnet's design)."""
    itemsize = np.dtype(cfg["dtype"]).itemsize
    units = [cfg["n_features"], *cfg["hidden"], cfg["n_classes"]]
    n_params = sum(a * b for a, b in zip(units, units[1:]))
    n_params += 2 * sum(cfg["hidden"]) + cfg["n_classes"]
    rows = cfg["batch_size"]
    x_bytes = cfg["n_samples"] * cfg["n_features"] * itemsize
    return {
        "X (one copy)": x_bytes,
        "batch work (X batch + 3 buffers per hidden layer + logits)": rows
        * (cfg["n_features"] + 3 * sum(cfg["hidden"]) + cfg["n_classes"])
        * itemsize,
        "params + grads + Adam m, v + epoch-start and last-finite copies "
        "(6 x params)": 6 * n_params * itemsize,
        "indices (targets, permutation: 2 x n x int64)": 2 * cfg["n_samples"] * 8,
    }


def child(cfg):
    """Measure one configuration in this (fresh) process; print JSON."""
    import gc
    import resource
    import tracemalloc
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    from skbnnet import BatchNormMLPClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    threadpool_limits(cfg["blas_threads"], user_api="blas")
    rng = np.random.default_rng(0)
    # Drawn in the final dtype: a float64 temporary would raise the resident
    # high-water mark before the fit and hide the fit's own peak.
    X = rng.random((cfg["n_samples"], cfg["n_features"]), dtype=cfg["dtype"])
    y = rng.integers(0, cfg["n_classes"], cfg["n_samples"])
    params = dict(
        hidden_layer_sizes=tuple(cfg["hidden"]),
        batch_size=cfg["batch_size"],
        max_iter=cfg["epochs"],
        tol=0.0,
        n_iter_no_change=10**9,
        random_state=0,
        early_stopping=cfg.get("early_stopping", False),
    )
    Estimator = BatchNormMLPClassifier if cfg["estimator"] == "skbnnet" else None
    Estimator = Estimator or MLPClassifier
    Estimator(**dict(params, max_iter=1, early_stopping=False)).fit(X[:300], y[:300])
    gc.collect()

    def maxrss():
        # Kilobytes on Linux, bytes on macOS.
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def proc_status(field):
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None

    def reset_peak():
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            return False
        return True

    rss_before = proc_status("VmRSS")
    maxrss_before = maxrss()
    hwm_reset = reset_peak() and rss_before is not None
    Estimator(**params).fit(X, y)
    maxrss_delta = maxrss() - maxrss_before
    if hwm_reset:
        rss_delta, method = proc_status("VmHWM") - rss_before, "VmHWM"
    else:
        rss_delta, method = maxrss_delta, "ru_maxrss"
    gc.collect()

    tracemalloc.start()
    start, _ = tracemalloc.get_traced_memory()
    Estimator(**params).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "x_bytes": int(X.nbytes),
                "tracemalloc_peak_bytes": int(peak - start),
                "peak_rss_increase_bytes": int(rss_delta),
                "peak_rss_method": method,
                "ru_maxrss_before_bytes": int(maxrss_before),
                "ru_maxrss_increase_bytes": int(maxrss_delta),
            }
        )
    )


def measure(cfg):
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "bench_memory.py"), "--child"],
        input=json.dumps(cfg),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed for {cfg['name']}:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(data, quick):
    MB = 2**20
    results = {}
    rows = []
    for cfg in configurations(quick):
        measured = measure(cfg)
        parts = budget(cfg)
        total = sum(parts.values())
        x_bytes = measured["x_bytes"]
        r = dict(
            measured,
            config=cfg,
            budget_components_bytes=parts,
            budget_bytes=total,
            tracemalloc_peak_over_x=measured["tracemalloc_peak_bytes"] / x_bytes,
            tracemalloc_peak_over_budget=measured["tracemalloc_peak_bytes"] / total,
            peak_rss_increase_over_x=measured["peak_rss_increase_bytes"] / x_bytes,
        )
        results[cfg["name"]] = r
        rows.append(
            [
                cfg["name"],
                x_bytes / MB,
                measured["tracemalloc_peak_bytes"] / MB,
                r["tracemalloc_peak_over_x"],
                measured["peak_rss_increase_bytes"] / MB,
                r["peak_rss_increase_over_x"],
                total / MB,
                r["tracemalloc_peak_over_budget"],
            ]
        )
    cfg = configurations(quick)[0]
    emit(
        f"### Memory of fit ({cfg['n_samples']} x {cfg['n_features']} random X, "
        f"{'-'.join(map(str, cfg['hidden']))} hidden, batch {cfg['batch_size']}, "
        f"{cfg['epochs']} epoch(s), fresh process per row)\n"
    )
    emit(
        markdown_table(
            [
                "configuration",
                "X MiB",
                "tracemalloc peak MiB",
                "peak / X",
                "peak RSS rise MiB",
                "rise / X",
                "budget MiB",
                "peak / budget",
            ],
            rows,
        )
    )
    emit()
    emit("Budget components (skbnnet float32 row):\n")
    emit(
        markdown_table(
            ["component", "MiB"],
            [[k, v / MB] for k, v in budget(cfg).items()],
        )
    )
    emit()
    return {"config": {"configurations": configurations(quick)}, "results": results}


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child(json.loads(sys.stdin.read()))
    else:
        sys.exit("bench_memory.py is run by run.py, or with --child by itself")
