"""Training time per epoch: skbnnet against MLPClassifier, PyTorch, skorch,
and BatchNormMLPRegressor against MLPRegressor.

Every contender trains the same network (``n_features-256-256-10``, ReLU,
batch norm where it has one, Adam with learning rate 1e-3, batches of 128)
for exactly ``epochs`` epochs on the same float32 data, alternately, each
after a warm-up fit. The regressors fit the one-hot class matrix as ten
targets, so their network has the classifiers' shapes. A fit's wall time
divided by its epochs is one sample; the table reports the median and the
minimum of the samples.
"""

import numpy as np
from _common import (
    emit,
    markdown_table,
    matmul_bound_epochs,
    optional_import,
    quiet,
    round_robin,
    summarize,
    timed,
    torch_fit,
    torch_module,
    torch_predict_proba,
    verdict,
)

HIDDEN = (256, 256)
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
QUICK_HIDDEN = (64, 64)


def hidden_for(quick):
    """The hidden layers of the benchmarks: small ones in quick mode."""
    return QUICK_HIDDEN if quick else HIDDEN


#: (numerator, denominator, target): skbnnet must take at most ``target``
#: times the time of the denominator.
TARGETS = [
    ("skbnnet (float32)", "pytorch loop", 0.7),
    ("skbnnet (float32)", "sklearn MLP float32", 0.7),
    ("skbnnet (float32)", "matmul-only bound", 1.6),
    ("skbnnet regressor (float32)", "sklearn MLPRegressor float32", 0.7),
]


def estimator_params(epochs, hidden=HIDDEN, batch_size=BATCH_SIZE):
    """Fixed-epoch parameters shared by skbnnet and MLPClassifier."""
    return dict(
        hidden_layer_sizes=hidden,
        solver="adam",
        learning_rate_init=LEARNING_RATE,
        batch_size=batch_size,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=10**9,
        shuffle=True,
        random_state=0,
    )


#: skbnnet with scikit-learn's recipe (its default adds a cosine schedule and
#: weight decay: a cosine and a scaling of the weights per step, under 1% of
#: an epoch here) and the plain network: no input scaling (statistics and a
#: scaled copy of X once per fit, which 10 epochs would not amortise) and no
#: numeric embedding (which "auto" turns on for narrower data), so that both
#: do the same work per epoch.
SKLEARN_RECIPE = dict(
    learning_rate="constant",
    weight_decay=0.0,
    input_scaling=None,
    numeric_embedding=None,
)


def skbnnet_epoch(X, y, epochs, hidden=HIDDEN, batch_size=BATCH_SIZE):
    """Seconds per epoch of one BatchNormMLPClassifier fit, and the model."""
    from skbnnet import BatchNormMLPClassifier

    clf = BatchNormMLPClassifier(
        **estimator_params(epochs, hidden, batch_size), **SKLEARN_RECIPE
    )
    with quiet():
        elapsed, _ = timed(lambda: clf.fit(X, y))
    assert clf.n_iter_ == epochs, clf.n_iter_
    return elapsed / epochs, clf


def make_contenders(X_train, y_train, epochs, hidden, notes):
    """Callables that fit once and return seconds per epoch; last models."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from skbnnet import BatchNormMLPRegressor

    layer_units = [X_train.shape[1], *hidden, len(np.unique(y_train))]
    X64 = X_train.astype(np.float64)
    models = {}

    def skbnnet():
        seconds, models["skbnnet (float32)"] = skbnnet_epoch(
            X_train, y_train, epochs, hidden
        )
        return seconds

    def sklearn(X):
        def run():
            clf = MLPClassifier(**estimator_params(epochs, hidden))
            with quiet():
                elapsed, _ = timed(lambda: clf.fit(X, y_train))
            assert clf.n_iter_ == epochs
            models[f"sklearn MLP {X.dtype}"] = clf
            return elapsed / epochs

        return run

    # Ten regression targets: the one-hot classes, in X's dtype.
    Y_train = (y_train[:, None] == np.unique(y_train)).astype(X_train.dtype)

    def regressor(name, make, **recipe):
        def run():
            reg = make(**estimator_params(epochs, hidden), **recipe)
            with quiet():
                elapsed, _ = timed(lambda: reg.fit(X_train, Y_train))
            assert reg.n_iter_ == epochs
            models[name] = reg
            return elapsed / epochs

        return run

    contenders = {
        "skbnnet (float32)": skbnnet,
        "sklearn MLP float32": sklearn(X_train),
        "sklearn MLP float64": sklearn(X64),
        "skbnnet regressor (float32)": regressor(
            "skbnnet regressor (float32)", BatchNormMLPRegressor, **SKLEARN_RECIPE
        ),
        "sklearn MLPRegressor float32": regressor(
            "sklearn MLPRegressor float32", MLPRegressor
        ),
    }

    torch, note = optional_import("torch")
    if torch is None:
        notes["pytorch loop"] = note
        notes["skorch"] = note
    else:

        def pytorch():
            # Timed from outside, like the estimators' fit: module creation and
            # tensor wrapping included.
            elapsed, (_, module) = timed(
                lambda: torch_fit(
                    X_train, y_train, layer_units, BATCH_SIZE, epochs, LEARNING_RATE
                )
            )
            models["pytorch loop"] = module
            return elapsed / epochs

        contenders["pytorch loop"] = pytorch
        skorch, note = optional_import("skorch")
        if skorch is None:
            notes["skorch"] = note
        else:
            y64 = np.asarray(y_train, dtype=np.int64)

            def skorch_fit():
                net = skorch.NeuralNetClassifier(
                    torch_module(layer_units),
                    criterion=torch.nn.CrossEntropyLoss,
                    optimizer=torch.optim.Adam,
                    lr=LEARNING_RATE,
                    batch_size=BATCH_SIZE,
                    max_epochs=epochs,
                    train_split=None,
                    iterator_train__shuffle=True,
                    verbose=0,
                )
                elapsed, _ = timed(lambda: net.fit(X_train, y64))
                models["skorch"] = net
                return elapsed / epochs

            contenders["skorch"] = skorch_fit

    def bound():
        return matmul_bound_epochs(X_train, layer_units, BATCH_SIZE, epochs)

    contenders["matmul-only bound"] = bound
    return contenders, models


def accuracy(name, model, X_test, y_test):
    if model is None:
        return None
    if name in ("pytorch loop",):
        proba = torch_predict_proba(model, X_test)
        return float(np.mean(proba.argmax(axis=1) == y_test))
    if "regressor" in name.lower():
        # The class of the largest of the ten regressed outputs.
        return float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))
    return float(np.mean(model.predict(X_test) == y_test))


def run(data, quick):
    X_train, X_test, y_train, y_test, info = data
    epochs = 1 if quick else 10
    reps = 1 if quick else 5
    hidden = hidden_for(quick)
    notes = {}
    contenders, models = make_contenders(X_train, y_train, epochs, hidden, notes)
    samples, contention = round_robin(contenders, reps)

    results = {}
    for name, values in samples.items():
        results[name] = summarize(values, contention[name])
        results[name]["accuracy"] = (
            None
            if name == "matmul-only bound"
            else accuracy(name, models.get(name), X_test, y_test)
        )
    for name, note in notes.items():
        results[name] = {"median": None, "skipped": note}

    ratios = []
    for num, den, target in TARGETS:
        a, b = results[num].get("median"), results[den].get("median")
        ratio = a / b if a is not None and b is not None else None
        ratios.append(
            {
                "name": f"{num} / {den}",
                "ratio": ratio,
                "target": f"<= {target}",
                "verdict": verdict(ratio, target),
                "note": notes.get(den),
            }
        )

    bound = results["matmul-only bound"]["median"]
    order = [
        "skbnnet (float32)",
        "sklearn MLP float32",
        "sklearn MLP float64",
        "pytorch loop",
        "skorch",
        "matmul-only bound",
        "skbnnet regressor (float32)",
        "sklearn MLPRegressor float32",
    ]
    rows = []
    for name in order:
        r = results[name]
        if r.get("median") is None:
            rows.append([name, "skipped", "—", "—", "—", "—", "—", r["skipped"]])
            continue
        others = r["others_cpu_max"]
        rows.append(
            [
                name,
                r["median"],
                r["min"],
                r["n"],
                r["median"] / bound,
                r["accuracy"],
                None if others is None else round(100 * others),
                "",
            ]
        )
    emit(
        f"### Training: seconds per epoch ({info['name']}, {info['n_train']} "
        f"train rows, {'-'.join(map(str, [info['n_features'], *hidden]))}-"
        f"{info['n_classes']}, batch {BATCH_SIZE}, {epochs} epochs/fit, "
        f"median of {reps} alternating fits after a warm-up)\n"
    )
    emit(
        markdown_table(
            [
                "contender",
                "median s/epoch",
                "min s/epoch",
                "fits",
                "x bound",
                "test acc",
                "others' CPU max %",
                "note",
            ],
            rows,
        )
    )
    emit()
    emit(
        markdown_table(
            ["ratio (medians)", "value", "target", "verdict", "note"],
            [
                [r["name"], r["ratio"], r["target"], r["verdict"], r["note"] or ""]
                for r in ratios
            ],
        )
    )
    emit()
    return {
        "config": {
            "hidden_layer_sizes": list(hidden),
            "batch_size": BATCH_SIZE,
            "learning_rate_init": LEARNING_RATE,
            "epochs_per_fit": epochs,
            "repetitions": reps,
            "dtype": "float32",
            "alpha (skbnnet, sklearn)": 1e-4,
        },
        "results": results,
        "ratios": ratios,
    }
