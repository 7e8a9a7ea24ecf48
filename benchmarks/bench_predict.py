"""Prediction latency: one-row ``predict_proba`` and a whole test set.

The models (same network as the training benchmark) are fitted for a few
epochs; what is timed is inference only, NumPy array in, NumPy array out.
PyTorch runs in eval mode under ``torch.no_grad()``. A reference row shows a
bare NumPy forward pass (batch norm folded into an affine map, no input
validation), the floor for a NumPy implementation. The skbnnet model
exported with :mod:`skbnnet.onnx` runs in an onnxruntime
``InferenceSession`` (CPU, the ``probabilities`` output only, default
threads with spinning off so that idle pool threads do not slow the next
contender), when skl2onnx and onnxruntime are installed; its ratio to
skbnnet's ``predict_proba`` is reported for information, with no target.

Contenders alternate in many short blocks of calls, after a warm-up block,
so that slow phases of a shared machine hit all of them alike; every call is
timed on its own and the table reports the median and 90th percentile over
all calls. The whole test set is predicted in blocks of a few calls too.
"""

import time

import numpy as np
from _common import (
    emit,
    markdown_table,
    optional_import,
    quiet,
    round_robin,
    torch_fit,
    torch_predict_proba,
    verdict,
)
from bench_training import BATCH_SIZE, estimator_params, hidden_for

TARGET = 0.75  # skbnnet single-row latency / PyTorch's


def numpy_reference(clf):
    """A bare forward pass with the fitted skbnnet weights, no validation."""
    coefs = clf.coefs_
    scales, shifts = [], []
    for gamma, beta, mean, var in zip(
        clf.bn_gammas_, clf.bn_betas_, clf.bn_means_, clf.bn_vars_
    ):
        scale = gamma / np.sqrt(var + clf.batch_norm_epsilon)
        scales.append(scale)
        shifts.append(beta - mean * scale)
    folded = [W * s for W, s in zip(coefs[:-1], scales)]
    W_out, b_out = coefs[-1], clf.intercepts_[-1]

    def forward(x):
        for W, b in zip(folded, shifts):
            x = x @ W
            x += b
            np.maximum(x, 0, out=x)
        z = x @ W_out
        z += b_out
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    return forward


ONNX_NAME = "onnxruntime (float32)"


def onnx_predictor(clf, X, notes):
    """``InferenceSession.run`` of ``clf`` exported by skbnnet.onnx, or None."""
    try:
        import onnxruntime
        from skl2onnx import to_onnx

        import skbnnet.onnx  # noqa: F401  (registers the converter)
    except ImportError as exc:
        notes[ONNX_NAME] = (
            f"skipped: {exc}; pip install skl2onnx onnxruntime (or -e .[onnx])"
        )
        return None
    onx = to_onnx(clf, X[:1], options={"zipmap": False})
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    input_name = session.get_inputs()[0].name

    def predict_proba(X):
        return session.run(["probabilities"], {input_name: X})[0]

    return predict_proba


def fitted_predictors(X_train, y_train, epochs, hidden, notes):
    """name -> callable(X) returning probabilities."""
    from sklearn.neural_network import MLPClassifier

    from skbnnet import BatchNormMLPClassifier

    with quiet():
        params = estimator_params(epochs, hidden)
        # The plain network, which the bound's layers reproduce.
        skb = BatchNormMLPClassifier(**params, numeric_embedding=None)
        skb.fit(X_train, y_train)
        skl = MLPClassifier(**params).fit(X_train, y_train)
    predictors = {
        "skbnnet (float32)": skb.predict_proba,
        "sklearn MLP float32": skl.predict_proba,
    }
    onnx = onnx_predictor(skb, X_train, notes)
    if onnx is not None:
        predictors[ONNX_NAME] = onnx
    torch, note = optional_import("torch")
    if torch is None:
        notes["pytorch (eval, no_grad)"] = note
    else:
        layer_units = [X_train.shape[1], *hidden, len(np.unique(y_train))]
        _, module = torch_fit(X_train, y_train, layer_units, BATCH_SIZE, epochs)
        predictors["pytorch (eval, no_grad)"] = lambda X: torch_predict_proba(module, X)
    predictors["numpy forward (reference)"] = numpy_reference(skb)
    return predictors


def run(data, quick):
    X_train, X_test, y_train, y_test, info = data
    notes = {}
    hidden = hidden_for(quick)
    predictors = fitted_predictors(X_train, y_train, 1 if quick else 3, hidden, notes)
    block = 100
    reps = 2 if quick else 20  # blocks per contender after the warm-up block
    batch_block, batch_reps = (1, 3) if quick else (5, 6)
    rows = [np.ascontiguousarray(X_test[i : i + 1]) for i in range(block)]

    per_call = {name: [] for name in predictors}

    def latency(name, predict):
        def run_block():
            times = []
            for x in rows:
                start = time.perf_counter()
                predict(x)
                times.append(time.perf_counter() - start)
            per_call[name].extend(times)
            return float(np.median(times))

        return run_block

    _, contention = round_robin(
        {name: latency(name, p) for name, p in predictors.items()},
        reps,
        gate=False,
        pause=0.05,
    )
    # The warm-up block is not a sample.
    per_call = {name: values[block:] for name, values in per_call.items()}

    batch_samples = {name: [] for name in predictors}

    def whole(name, predict):
        def run_block():
            for _ in range(batch_block):
                start = time.perf_counter()
                predict(X_test)
                batch_samples[name].append(time.perf_counter() - start)
            return 0.0

        return run_block

    round_robin(
        {name: whole(name, p) for name, p in predictors.items()},
        batch_reps,
        gate=False,
        pause=0.05,
    )
    # The warm-up block is not a sample.
    batch_samples = {name: v[batch_block:] for name, v in batch_samples.items()}
    batch_calls = batch_block * batch_reps

    results = {}
    for name in predictors:
        calls = np.asarray(per_call[name])
        results[name] = {
            "single_row_median_s": float(np.median(calls)),
            "single_row_p90_s": float(np.percentile(calls, 90)),
            "single_row_calls": int(calls.size),
            "test_set_median_s": float(np.median(batch_samples[name])),
            "test_set_rows": int(X_test.shape[0]),
            "others_cpu": contention[name],
        }
    for name, note in notes.items():
        results[name] = {"single_row_median_s": None, "skipped": note}

    torch_name = "pytorch (eval, no_grad)"
    skb = results["skbnnet (float32)"]["single_row_median_s"]
    ref = results[torch_name]["single_row_median_s"]
    ratio = skb / ref if ref else None
    ratio_row = {
        "name": f"skbnnet / {torch_name} (single row, medians)",
        "ratio": ratio,
        "target": f"<= {TARGET}",
        "verdict": verdict(ratio, TARGET),
        "note": notes.get(torch_name),
    }

    onnx = results[ONNX_NAME]["single_row_median_s"]
    onnx_ratio = onnx / skb if onnx else None
    comparison = {
        "name": f"{ONNX_NAME} / skbnnet predict_proba (single row, medians)",
        "ratio": onnx_ratio,
        "target": "none (information)",
        "note": notes.get(ONNX_NAME),
    }

    table = []
    for name in [
        "skbnnet (float32)",
        ONNX_NAME,
        "sklearn MLP float32",
        torch_name,
        "numpy forward (reference)",
    ]:
        r = results[name]
        if r["single_row_median_s"] is None:
            table.append([name, "skipped", "—", "—", "—", r["skipped"]])
            continue
        table.append(
            [
                name,
                r["single_row_median_s"] * 1e6,
                r["single_row_p90_s"] * 1e6,
                r["single_row_calls"],
                r["test_set_median_s"] * 1e3,
                "",
            ]
        )
    emit(
        f"### Prediction latency (predict_proba, {info['name']}, float32; "
        f"single rows in {reps} alternating blocks of {block} calls after a "
        f"warm-up block; test set of {X_test.shape[0]} rows, median of "
        f"{batch_calls})\n"
    )
    emit(
        markdown_table(
            [
                "contender",
                "1 row median µs",
                "1 row p90 µs",
                "calls",
                f"{X_test.shape[0]} rows median ms",
                "note",
            ],
            table,
        )
    )
    emit()
    emit(
        markdown_table(
            ["ratio", "value", "target", "verdict", "note"],
            [
                [
                    ratio_row["name"],
                    ratio,
                    ratio_row["target"],
                    ratio_row["verdict"],
                    ratio_row["note"] or "",
                ],
                [
                    comparison["name"],
                    onnx_ratio,
                    comparison["target"],
                    "skipped" if onnx_ratio is None else "—",
                    comparison["note"] or "",
                ],
            ],
        )
    )
    emit()
    return {
        "config": {
            "block": block,
            "blocks": reps,
            "test_set_calls": batch_calls,
            "hidden_layer_sizes": list(hidden),
        },
        "results": results,
        "ratios": [ratio_row],
        # Informative ratios without a target, kept out of the summary.
        "comparisons": [comparison],
    }
