"""Profile skbnnet training in the training benchmark's configuration.

Usage::

    python benchmarks/profile_training.py            # cProfile, top 15
    python benchmarks/profile_training.py --py-spy   # + sampled source lines

cProfile times Python functions; NumPy's ufuncs and ``np.matmul`` are not
Python functions, so their time lands in the *calling* function's "tottime".
The matmul-only bound of the same shapes says how much of a fit BLAS needs
at least. With ``--py-spy`` (``pip install py-spy``) the fits run again
under ``py-spy record --native``: every sample of the main thread is
classified as OpenBLAS, other NumPy C code or the Python interpreter, and
attributed to the innermost line of skbnnet's source on its stack.
"""

import argparse
import cProfile
import gc
import io
import linecache
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from _common import (  # noqa: E402
    emit,
    fmt,
    load_data,
    markdown_table,
    matmul_bound_epochs,
    quiet,
)
from bench_training import (  # noqa: E402
    BATCH_SIZE,
    HIDDEN,
    estimator_params,
    skbnnet_epoch,
)


def fits(epochs, n_fits):
    X, _, y, _, info = load_data(quick=False)
    skbnnet_epoch(X, y, epochs)  # warm-up
    return [skbnnet_epoch(X, y, epochs)[0] for _ in range(n_fits)], (X, y, info)


def cprofile_report(epochs, top):
    from skbnnet import BatchNormMLPClassifier

    X, _, y, _, info = load_data(quick=False)
    skbnnet_epoch(X, y, epochs)  # warm-up
    clf = BatchNormMLPClassifier(**estimator_params(epochs))
    gc.collect()
    profiler = cProfile.Profile()
    with quiet():
        start = time.perf_counter()
        profiler.enable()
        clf.fit(X, y)
        profiler.disable()
        total = time.perf_counter() - start
    layer_units = [X.shape[1], *HIDDEN, len(set(y.tolist()))]
    bound = matmul_bound_epochs(X, layer_units, BATCH_SIZE, epochs) * epochs

    stats = pstats.Stats(profiler, stream=io.StringIO())
    stats.sort_stats("tottime")
    rows = []
    for func in stats.fcn_list[:top]:
        cc, ncalls, tottime, cumtime, _ = stats.stats[func]
        filename, line, name = func
        where = (
            f"{os.path.relpath(filename, os.path.dirname(HERE))}:{line}"
            if filename.startswith(os.path.dirname(HERE))
            else f"{os.path.basename(filename)}:{line}"
        )
        rows.append(
            [
                f"`{name}` ({where})" if line else f"`{name}`",
                ncalls,
                tottime,
                100 * tottime / stats.total_tt,
                cumtime,
            ]
        )
    emit(
        f"### cProfile: one {epochs}-epoch fit, {info['name']}, {X.shape[0]} rows, "
        f"{'-'.join(map(str, layer_units))}, batch {BATCH_SIZE}\n"
    )
    emit(
        f"Fit wall time {total:.3f} s under the profiler "
        f"({stats.total_tt:.3f} s profiled); matmul-only bound of the same "
        f"shapes {bound:.3f} s ({100 * bound / total:.0f}% of the fit), so at "
        f"least {total - bound:.3f} s ({100 * (total - bound) / total:.0f}%) "
        "is spent outside BLAS matrix products. NumPy ufuncs and np.matmul "
        "are not Python functions: their time is in the caller's tottime.\n"
    )
    emit(
        markdown_table(
            ["function", "calls", "tottime s", "% of profiled", "cumtime s"], rows
        )
    )
    emit()


def matmul_share(epochs, reps=3):
    """Time spent in ``np.matmul`` during fits, with a timing wrapper.

    ``np.matmul`` is replaced (in this process only) by a wrapper that adds
    up its wall time; skbnnet looks it up at call time, so every product of
    its forward and backward passes is counted (the ``weights @ Z`` of batch
    norm's weighted means uses the ``@`` operator and is not).
    """
    import numpy as np

    from skbnnet import BatchNormMLPClassifier

    X, _, y, _, _ = load_data(quick=False)
    original = np.matmul
    spent = [0.0, 0]

    def timed_matmul(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start
            spent[1] += 1

    rows = []
    np.matmul = timed_matmul
    try:
        for _ in range(reps):
            clf = BatchNormMLPClassifier(**estimator_params(epochs))
            spent[:] = [0.0, 0]
            gc.collect()
            with quiet():
                start = time.perf_counter()
                clf.fit(X, y)
                total = time.perf_counter() - start
            rows.append((total, spent[0], spent[1]))
    finally:
        np.matmul = original
    layer_units = [X.shape[1], *HIDDEN, len(set(y.tolist()))]
    bound = matmul_bound_epochs(X, layer_units, BATCH_SIZE, epochs) * epochs
    total, in_matmul, calls = sorted(rows)[len(rows) // 2]
    emit(
        f"### np.matmul inside a {epochs}-epoch fit (timing wrapper, median of "
        f"{reps} fits)\n"
    )
    emit(
        markdown_table(
            ["quantity", "seconds", "% of fit"],
            [
                ["fit", total, 100.0],
                [f"np.matmul ({calls} calls)", in_matmul, 100 * in_matmul / total],
                ["everything else", total - in_matmul, 100 - 100 * in_matmul / total],
                ["matmul-only bound, same shapes", bound, 100 * bound / total],
            ],
        )
    )
    emit()


def classify(frames):
    """'blas', 'numpy' or 'python' for one sampled stack (leaf last)."""
    if any("openblas" in f for f in frames):
        return "blas"
    leaf = frames[-1]
    if ".so)" in leaf and ("numpy" in leaf or "_multiarray" in leaf):
        return "numpy"
    if ".so" in leaf and "python" not in leaf.lower():
        return "other C"
    return "python"


def py_spy_report(epochs, n_fits, top, rate):
    exe = shutil.which("py-spy") or os.path.join(
        os.path.dirname(sys.executable), "py-spy"
    )
    if not os.path.exists(exe):
        emit("py-spy not found: pip install py-spy")
        return
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "samples.txt")
        cmd = [
            exe,
            "record",
            "--native",
            "--rate",
            str(rate),
            "--format",
            "raw",
            "--output",
            raw,
            "--",
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            "--epochs",
            str(epochs),
            "--fits",
            str(n_fits),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not os.path.exists(raw):
            emit(f"py-spy failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
            return
        with open(raw) as f:
            lines = f.read().splitlines()
    kinds = Counter()
    by_line = Counter()
    blas_by_line = Counter()
    total = 0
    for entry in lines:
        stack, _, count = entry.rpartition(" ")
        frames = stack.split(";")
        if not any("_fit_stochastic" in f for f in frames):
            continue
        count = int(count)
        total += count
        kind = classify(frames)
        kinds[kind] += count
        own = [f for f in frames if "skbnnet/" in f and "(" in f]
        key = own[-1] if own else "(outside skbnnet)"
        by_line[key] += count
        if kind == "blas":
            blas_by_line[key] += count
    if not total:
        emit("py-spy recorded no sample inside the training loop")
        return
    emit(
        f"### py-spy: main-thread samples inside the training loop "
        f"({n_fits} x {epochs}-epoch fits, {total} samples at {rate} Hz)\n"
    )
    emit(
        markdown_table(
            ["where the main thread was", "% of samples"],
            [[k, 100 * v / total] for k, v in kinds.most_common()],
        )
    )
    emit()
    rows = []
    for key, count in by_line.most_common(top):
        code = ""
        if key.endswith(")") and ":" in key:
            location = key[key.rindex("(") + 1 : -1]
            path, _, line = location.rpartition(":")
            path = next(
                (p for p in sys.path if os.path.exists(os.path.join(p, path))), ""
            )
            code = linecache.getline(
                os.path.join(path, location.rpartition(":")[0]), int(line)
            ).strip()
        rows.append(
            [
                key,
                f"`{code}`" if code else "",
                100 * count / total,
                100 * blas_by_line[key] / count,
            ]
        )
    emit(
        markdown_table(
            ["innermost skbnnet frame", "code", "% of samples", "% of it in BLAS"],
            rows,
        )
    )
    emit()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--fits", type=int, default=3, help="fits for py-spy")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples/s")
    parser.add_argument("--py-spy", action="store_true", dest="py_spy")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        seconds, _ = fits(args.epochs, args.fits)
        print(" ".join(fmt(s) for s in seconds))
        return 0
    emit(f"- load average at start: {os.getloadavg()}")
    cprofile_report(args.epochs, args.top)
    matmul_share(args.epochs)
    if args.py_spy:
        py_spy_report(args.epochs, args.fits, args.top, args.rate)
    emit(f"- load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
