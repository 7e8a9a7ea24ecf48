"""How skbnnet's epoch time scales, next to the matmul-only bound.

Three sweeps around the training benchmark's configuration (MNIST-like
data, 256-256 hidden, batch 128): the number of samples (rows made by
tiling the training data with a little noise), the hidden width (both
layers) and the batch size. Each point alternates skbnnet with the matmul
bound of the same shapes, after a warm-up of each; the ratio column is how
far skbnnet is from the bound. Small batches and narrow layers expose the
per-batch Python overhead, large ones the elementwise work.
"""

import numpy as np
from _common import (
    batch_slices,
    emit,
    grow,
    markdown_table,
    matmul_bound_epochs,
    round_robin,
    summarize,
)
from bench_training import BATCH_SIZE, hidden_for, skbnnet_epoch


def sweeps(quick):
    if quick:
        return {
            "n_samples": [200, 400],
            "width": [16, 32],
            "batch_size": [64, 256],
        }
    return {
        "n_samples": [1000, 2000, 4000, 8000],
        "width": [64, 128, 256, 512, 1024],
        "batch_size": [32, 64, 128, 256, 512, 1024],
    }


def point(X, y, hidden, batch_size, epochs, reps):
    layer_units = [X.shape[1], *hidden, len(np.unique(y))]
    samples, contention = round_robin(
        {
            "skbnnet": lambda: skbnnet_epoch(X, y, epochs, hidden, batch_size)[0],
            "bound": lambda: matmul_bound_epochs(X, layer_units, batch_size, epochs),
        },
        reps,
    )
    skb = summarize(samples["skbnnet"], contention["skbnnet"])
    bound = summarize(samples["bound"], contention["bound"])
    known = [c for c in contention["skbnnet"] + contention["bound"] if c is not None]
    return {
        "n_samples": int(X.shape[0]),
        "hidden": list(hidden),
        "batch_size": batch_size,
        "skbnnet_s_per_epoch": skb["median"],
        "bound_s_per_epoch": bound["median"],
        "ratio": skb["median"] / bound["median"],
        "skbnnet_samples": skb["samples"],
        "bound_samples": bound["samples"],
        "others_cpu_max": max(known) if known else None,
    }


def run(data, quick):
    X_train, _, y_train, _, info = data
    epochs = 1 if quick else 3
    reps = 1 if quick else 3
    hidden = hidden_for(quick)
    n_base = min(X_train.shape[0], 4000)
    X_base, y_base = X_train[:n_base], y_train[:n_base]
    grid = sweeps(quick)
    results = {}

    results["n_samples"] = [
        point(*grow(X_train, y_train, n), hidden, BATCH_SIZE, epochs, reps)
        for n in grid["n_samples"]
    ]
    results["width"] = [
        point(X_base, y_base, (w, w), BATCH_SIZE, epochs, reps) for w in grid["width"]
    ]
    results["batch_size"] = [
        point(X_base, y_base, hidden, b, epochs, reps) for b in grid["batch_size"]
    ]

    header = (
        f"({info['name']}, {epochs} epoch(s) per fit, median of {reps} "
        "alternating fits after a warm-up)"
    )

    def others(p):
        c = p["others_cpu_max"]
        return None if c is None else round(100 * c)

    first = results["n_samples"][0]
    emit(f"### Scaling with n_samples (hidden {hidden}, batch {BATCH_SIZE}) {header}\n")
    emit(
        markdown_table(
            [
                "n_samples",
                "skbnnet s/epoch",
                "bound s/epoch",
                "x bound",
                "skbnnet µs/sample",
                "time / linear from first",
                "others' CPU max %",
            ],
            [
                [
                    p["n_samples"],
                    p["skbnnet_s_per_epoch"],
                    p["bound_s_per_epoch"],
                    p["ratio"],
                    p["skbnnet_s_per_epoch"] / p["n_samples"] * 1e6,
                    p["skbnnet_s_per_epoch"]
                    * first["n_samples"]
                    / (first["skbnnet_s_per_epoch"] * p["n_samples"]),
                    others(p),
                ]
                for p in results["n_samples"]
            ],
        )
    )
    emit()
    emit(
        f"### Scaling with hidden width (two layers, {n_base} rows, batch "
        f"{BATCH_SIZE}) {header}\n"
    )
    emit(
        markdown_table(
            ["width", "skbnnet s/epoch", "bound s/epoch", "x bound", "others' CPU %"],
            [
                [
                    p["hidden"][0],
                    p["skbnnet_s_per_epoch"],
                    p["bound_s_per_epoch"],
                    p["ratio"],
                    others(p),
                ]
                for p in results["width"]
            ],
        )
    )
    emit()
    emit(f"### Scaling with batch size ({n_base} rows, hidden {hidden}) {header}\n")
    emit(
        markdown_table(
            [
                "batch",
                "batches/epoch",
                "skbnnet s/epoch",
                "bound s/epoch",
                "x bound",
                "others' CPU %",
            ],
            [
                [
                    p["batch_size"],
                    len(batch_slices(n_base, p["batch_size"])),
                    p["skbnnet_s_per_epoch"],
                    p["bound_s_per_epoch"],
                    p["ratio"],
                    others(p),
                ]
                for p in results["batch_size"]
            ],
        )
    )
    emit()
    return {
        "config": {"epochs_per_fit": epochs, "repetitions": reps, "grid": grid},
        "results": results,
    }
