"""Tests of the training loop and the recipe options: divergence, cosine
schedule, decoupled weight decay, label smoothing, class weights, a
validation set of the user's, and hostile values found by trying to break
the package."""

import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, recall_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _fit_recording(clf, X, y, **fit_params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y, **fit_params)
    return [str(w.message) for w in caught if w.category is ConvergenceWarning]


def _diverged(messages):
    return [m for m in messages if "diverged" in m]


# ---------------------------------------------------------------------------
# Divergence


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate_init=100.0),
        dict(solver="sgd", learning_rate_init=100.0, batch_norm=False),
        dict(solver="sgd", learning_rate_init=1e6, batch_norm=False),
        dict(solver="rmsprop", learning_rate_init=1.0),
        dict(solver="sgd", learning_rate_init=1e4, momentum=0.0),
    ],
    ids=str,
)
def test_exploding_loss_is_divergence(digits, params):
    """A loss that explodes while staying finite (sgd at 100 reaches 1e18) is
    divergence: training stops at once, warns once, and the model is not the
    exploded one."""
    X, y = digits
    clf = BatchNormMLPClassifier(max_iter=50, random_state=0, **params)
    messages = _fit_recording(clf, X, y)
    assert len(messages) == 1
    assert _diverged(messages)
    assert clf.n_iter_ < clf.max_iter
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    # The best parameters seen, not exploded ones: the loss is that of an
    # untrained network at worst (ln 10 = 2.3), nowhere near the explosion.
    assert log_loss(y, proba) < 5


def test_divergence_restores_the_best_parameters_seen(digits):
    """A warm start that diverges in its first epoch puts back the trained
    model it started from."""
    X, y = digits
    clf = BatchNormMLPClassifier(
        max_iter=10, learning_rate_init=0.01, random_state=0, warm_start=True
    )
    _fit_recording(clf, X, y)
    trained = clf.predict_proba(X)
    assert clf.score(X, y) > 0.95
    clf.set_params(solver="sgd", learning_rate_init=1e3)
    assert _diverged(_fit_recording(clf, X, y))
    assert_allclose(clf.predict_proba(X), trained)


def test_non_finite_parameters_after_the_last_step_are_caught(digits):
    """A last step that overflows the parameters while its loss was finite
    is caught after the step, and the call's starting parameters come back:
    never NaN or inf."""
    X, y = digits
    # float32: a rate of 1e300 overflows the parameters in one step.
    X = X.astype(np.float32)
    clf = BatchNormMLPClassifier(
        solver="sgd",
        batch_norm=False,
        batch_size=len(X),
        max_iter=1,
        warm_start=True,
        random_state=0,
    )
    _fit_recording(clf, X, y)
    before = [coef.copy() for coef in clf.coefs_]
    clf.set_params(learning_rate_init=1e300)
    with pytest.warns(ConvergenceWarning, match="non-finite"):
        clf.fit(X, y)
    for coef, previous in zip(clf.coefs_, before):
        assert_array_equal(coef, previous)
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize(
    "load", [load_digits, load_breast_cancer, load_wine], ids=lambda f: f.__name__
)
@pytest.mark.parametrize(
    "solver, learning_rate_init", [("adam", 0.05), ("sgd", 0.5), ("rmsprop", 0.01)]
)
def test_no_false_divergence_alarm(load, solver, learning_rate_init):
    """Aggressive but working rates train well and raise no divergence
    warning."""
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = BatchNormMLPClassifier(
        solver=solver,
        learning_rate_init=learning_rate_init,
        max_iter=30,
        random_state=0,
    )
    messages = _fit_recording(clf, X, y)
    assert not _diverged(messages)
    assert not [m for m in messages if "learned nothing" in m]
    assert clf.score(X, y) > 0.95


# ---------------------------------------------------------------------------
# Recipe options


def test_cosine_cycle_spans_max_iter(digits):
    """A fit of max_iter epochs runs exactly one cosine cycle (9 mini-batches
    an epoch, whose fractions do not sum to 1 exactly): afterwards the next
    cycle starts at learning_rate_init, not at the end's rate of 0."""
    X, y = digits
    clf = BatchNormMLPClassifier(
        learning_rate="cosine", max_iter=3, n_iter_no_change=100, random_state=0
    )
    _fit_recording(clf, X, y)
    assert clf.n_iter_ == 3
    assert clf._optimizer.cycle_position == 0.0
    assert clf._optimizer.learning_rate == clf.learning_rate_init


def test_partial_fit_calls_are_epochs_of_the_cosine_cycle(iris):
    """With the default cosine schedule each partial_fit call is one epoch
    of a cycle of max_iter calls: half-way the rate is half, after the last
    call the next cycle starts at learning_rate_init."""
    X, y = iris
    clf = BatchNormMLPClassifier((8,), max_iter=4, random_state=0)
    rates = []
    for _ in range(4):
        clf.partial_fit(X, y, classes=np.unique(y))
        rates.append(clf._optimizer.learning_rate)
    assert rates[1] == pytest.approx(clf.learning_rate_init / 2)
    assert rates[0] > rates[1] > rates[2] > 0
    assert rates[3] == clf.learning_rate_init


def test_weight_decay_shrinks_the_weights(digits):
    """In a fit, weight decay shrinks the weight matrices, not gamma."""
    X, y = digits
    fits = [
        BatchNormMLPClassifier(
            max_iter=10, weight_decay=wd, learning_rate_init=0.01, random_state=0
        )
        for wd in (0.0, 1.0)
    ]
    for clf in fits:
        _fit_recording(clf, X, y)
    plain, decayed = (sum(float((c**2).sum()) for c in f.coefs_) for f in fits)
    assert decayed < 0.5 * plain
    assert fits[1].score(X, y) > 0.9


def test_label_smoothing_softens_the_probabilities(digits):
    """Label smoothing keeps the top probability away from 1, near
    1 - s + s / K on well-fitted training data."""
    X, y = digits
    sharp, smooth = (
        BatchNormMLPClassifier(
            max_iter=30, label_smoothing=s, learning_rate_init=0.01, random_state=0
        )
        for s in (0.0, 0.3)
    )
    _fit_recording(sharp, X, y)
    _fit_recording(smooth, X, y)
    top_sharp = sharp.predict_proba(X).max(axis=1).mean()
    top_smooth = smooth.predict_proba(X).max(axis=1).mean()
    assert top_sharp > 0.99
    assert top_smooth == pytest.approx(1 - 0.3 + 0.3 / 10, abs=0.05)
    assert smooth.score(X, y) > 0.95


def test_balanced_class_weight_equals_its_sample_weights(iris):
    """class_weight="balanced" is sample_weight multiplied by the balanced
    weights of the (weighted) class counts."""
    X, y = iris
    keep = np.r_[0:50, 50:70, 100:150]
    X, y = X[keep], y[keep]
    weighted = BatchNormMLPClassifier(
        max_iter=5, random_state=0, class_weight="balanced"
    )
    _fit_recording(weighted, X, y)
    explicit = BatchNormMLPClassifier(max_iter=5, random_state=0)
    _fit_recording(explicit, X, y, sample_weight=compute_sample_weight("balanced", y))
    assert_allclose(weighted.predict_proba(X), explicit.predict_proba(X), rtol=1e-6)


def test_balanced_class_weight_raises_minority_recall():
    """On 95/5 imbalanced data "balanced" finds more of the minority class."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((1000, 5))
    y = (X[:, 0] + 0.8 * rng.standard_normal(1000) > 2.0).astype(int)
    recalls = []
    for class_weight in (None, "balanced"):
        clf = BatchNormMLPClassifier(
            (16,), max_iter=30, random_state=0, class_weight=class_weight
        )
        _fit_recording(clf, X, y)
        recalls.append(recall_score(y, clf.predict(X)))
    assert recalls[1] > recalls[0] + 0.1


def test_class_weight_errors(iris):
    X, y = iris
    with pytest.raises(InvalidParameterError, match="classes not in the data: \\[7\\]"):
        BatchNormMLPClassifier(class_weight={0: 1.0, 7: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="not supported for partial_fit"):
        BatchNormMLPClassifier(class_weight="balanced").partial_fit(
            X, y, classes=np.unique(y)
        )
    Y = np.c_[y == 0, y == 1].astype(int)
    with pytest.raises(ValueError, match="multilabel targets can only be 'balanced'"):
        BatchNormMLPClassifier(class_weight={0: 1.0, 1: 2.0}).fit(X, Y)


def test_class_weight_dict_covers_classes_absent_from_a_call(iris):
    """A class_weight dict is checked against every class of the model: a
    partial_fit batch of one class (SGDClassifier accepts it) and a fit on a
    fold without one of the classes (LogisticRegression accepts it when
    every present class is weighted) train with the dict's weights, as the
    same weights passed as sample_weight would."""
    X, y = iris
    weights = {0: 1.0, 1: 5.0, 2: 0.5}
    clf = BatchNormMLPClassifier(max_iter=5, random_state=0, class_weight=weights)
    clf.partial_fit(X[:50], y[:50], classes=[0, 1, 2])
    clf.partial_fit(X[50:100], y[50:100])
    fold = slice(0, 100)
    weighted = BatchNormMLPClassifier(max_iter=5, random_state=0, class_weight=weights)
    _fit_recording(weighted, X[fold], y[fold])
    explicit = BatchNormMLPClassifier(max_iter=5, random_state=0)
    _fit_recording(
        explicit, X[fold], y[fold], sample_weight=np.where(y[fold] == 1, 5.0, 1.0)
    )
    assert_array_equal(weighted.classes_, [0, 1])
    assert_allclose(weighted.predict_proba(X), explicit.predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize("weight", [-1.0, np.nan, np.inf, "heavy", True], ids=repr)
def test_class_weight_values_are_validated(iris, weight):
    """Negative, NaN, infinite, non-numeric or boolean class weights get an
    error naming class_weight before any training (they used to surface as
    divergence, an overflow of the weights' sum or a UFuncTypeError)."""
    X, y = iris
    clf = BatchNormMLPClassifier(max_iter=2, class_weight={0: 1.0, 1: weight})
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")
    with pytest.raises(InvalidParameterError, match="'class_weight' parameter"):
        clf.partial_fit(X, y, classes=[0, 1, 2])


# ---------------------------------------------------------------------------
# A validation set of the user's


def test_validation_set_of_the_users(digits):
    """With X_val, early stopping scores the given set: the restored model's
    accuracy on it is best_validation_score_, and all of X trains."""
    X, y = digits
    X_train, y_train, X_val, y_val = X[:1400], y[:1400], X[1400:], y[1400:]
    clf = BatchNormMLPClassifier(
        early_stopping=True, max_iter=15, n_iter_no_change=3, random_state=0
    )
    _fit_recording(clf, X_train, y_train, X_val=X_val, y_val=y_val)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)
    assert clf.t_ == clf.n_iter_ * len(X_train)


def test_validation_set_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="early_stopping=False"):
        BatchNormMLPClassifier().fit(X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        BatchNormMLPClassifier(early_stopping=True).fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="X has 3 features"):
        BatchNormMLPClassifier(early_stopping=True).fit(X, y, X_val=X[:, :3], y_val=y)
    with pytest.raises(ValueError, match="y_val has classes not in the training"):
        BatchNormMLPClassifier(early_stopping=True).fit(X, y, X_val=X, y_val=y + 5)
    clf = BatchNormMLPClassifier(early_stopping=True)
    with pytest.raises(ValueError):
        clf.fit(X, y, X_val=X, y_val=y, sample_weight_val=np.zeros(len(y)))
    assert not hasattr(clf, "classes_")
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[3, 1], X_inf[5, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match="Input X_val contains NaN"):
        clf.fit(X, y, X_val=X_nan, y_val=y)
    with pytest.raises(ValueError, match="Input X_val contains infinity"):
        clf.fit(X, y, X_val=X_inf, y_val=y)
    reg = BatchNormMLPRegressor(early_stopping=True)
    with pytest.raises(ValueError, match="Input y_val contains NaN"):
        reg.fit(X, y, X_val=X, y_val=np.r_[np.nan, y[1:]])
    assert not hasattr(clf, "classes_") and not hasattr(reg, "n_outputs_")


def test_early_stopping_split_error_names_the_labels():
    """A class too small for the stratified validation split is named by its
    label, not by its index in classes_."""
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    with pytest.raises(ValueError, match=r"too few members are: \['b'\]"):
        BatchNormMLPClassifier(early_stopping=True).fit(X, ["a", "a", "a", "b"])


@pytest.mark.parametrize("multilabel", [False, True], ids=["multiclass", "multilabel"])
def test_validation_targets_of_the_wrong_kind_fail_before_training(
    iris, multilabel, capsys
):
    """y_val must be of y's kind: labels for a multiclass fit, an indicator
    matrix of as many columns for a multilabel one. The error comes from
    validation, before the first epoch (it came from the metrics inside the
    training loop)."""
    X, y = iris
    Y = np.c_[y == 0, y == 1, y == 2].astype(int)
    y_fit, y_val = (Y, y) if multilabel else (y, Y[:, :2])
    clf = BatchNormMLPClassifier(early_stopping=True, verbose=1)
    with pytest.raises(ValueError, match="y_val must be"):
        clf.fit(X, y_fit, X_val=X, y_val=y_val)
    assert not hasattr(clf, "classes_")
    assert "Epoch" not in capsys.readouterr().out
    if multilabel:
        with pytest.raises(ValueError, match="indicator matrix of 3 columns"):
            clf.fit(X, y_fit, X_val=X, y_val=Y[:, :2])


# ---------------------------------------------------------------------------
# Hostile values found by trying to break the package


def test_numpy_string_parameters(iris):
    """Parameter values from np.array([...]) (a search grid) reach the
    compiled kernels as plain strings."""
    X, y = iris
    clf = BatchNormMLPClassifier((8,), activation=np.str_("tanh"), max_iter=5)
    _fit_recording(clf, X, y)
    assert np.isfinite(clf.predict_proba(X)).all()
    grid = GridSearchCV(
        BatchNormMLPClassifier((8,), max_iter=5, random_state=0),
        {
            "activation": np.array(["tanh", "relu"]),
            "learning_rate": np.array(["constant", "cosine"]),
        },
        cv=2,
        error_score="raise",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("solver", ["adam", "rmsprop"])
def test_tiny_epsilon_in_float32(iris, solver):
    """An epsilon below float32's smallest normal number (allowed by the
    constraints) does not turn a zero gradient into 0 / 0."""
    X, y = iris
    # A constant feature: its first-layer weights get exactly zero gradient.
    X = np.c_[X, np.zeros(len(X))].astype(np.float32)
    clf = BatchNormMLPClassifier((8,), solver=solver, epsilon=1e-50, max_iter=5)
    _fit_recording(clf, X, y)
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_weight_row_equals_removing_it(iris, dtype):
    """A row of weight 0 with huge values (1e20, whose square overflows
    float32) changes nothing: the model equals one fitted without it."""
    X, y = iris
    X_bad = np.r_[X, np.full((1, X.shape[1]), 1e20)].astype(dtype)
    y_bad = np.r_[y, 0]
    weight = np.r_[np.ones(len(y)), 0.0]
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with_row = BatchNormMLPClassifier(**params)
    without = BatchNormMLPClassifier(**params)
    assert not _diverged(_fit_recording(with_row, X_bad, y_bad, sample_weight=weight))
    _fit_recording(without, X.astype(dtype), y)
    assert_allclose(with_row.predict_proba(X), without.predict_proba(X), rtol=1e-5)


def test_batch_size_one_with_batch_norm_is_refused(iris):
    """Batch norm on one-row batches learns nothing: a clear error, as
    PyTorch gives; without batch norm it trains."""
    X, y = iris
    clf = BatchNormMLPClassifier((8,), batch_size=1, max_iter=10, random_state=0)
    with pytest.raises(ValueError, match="at least 2 rows per mini-batch"):
        clf.fit(X, y)
    assert not hasattr(clf, "classes_")
    clf.set_params(batch_norm=False)
    _fit_recording(clf, X, y)
    assert clf.score(X, y) > 0.8


def test_early_stopping_with_mostly_zero_weights(iris):
    """Zero weights are absent rows: with too few weighted rows to hold a
    stratified validation set out, the error says so and what to do, rather
    than a ZeroDivisionError or sklearn's sample-weight message."""
    X, y = iris
    weight = np.zeros(len(y))
    weight[[0, 1, 50, 51, 100, 101]] = 1.0
    clf = BatchNormMLPClassifier(early_stopping=True)
    with pytest.raises(ValueError, match="could not hold out a stratified") as info:
        clf.fit(X, y, sample_weight=weight)
    assert "X_val" in str(info.value)
    # With enough weighted rows it trains, on those rows only.
    weight[::2] = 1.0
    _fit_recording(clf, X, y, sample_weight=weight)
    n_weighted = np.count_nonzero(weight)
    n_train = n_weighted - math.ceil(0.1 * n_weighted)
    assert clf.t_ == clf.n_iter_ * n_train


def test_huge_power_t_does_not_overflow(iris):
    """invscaling with power_t=1000 (valid) drives the rate to 0 instead of
    raising Python's OverflowError from (t + 1) ** power_t."""
    X, y = iris
    clf = BatchNormMLPClassifier(
        (8,), learning_rate="invscaling", power_t=1e3, max_iter=3, random_state=0
    )
    _fit_recording(clf, X, y)
    assert clf._optimizer.learning_rate == 0.0
    assert np.isfinite(clf.predict_proba(X)).all()


def test_cosine_runs_its_whole_schedule(digits):
    """A training-loss plateau stops a constant-rate fit but not a cosine one
    (the schedule sets the length; its end is where it gains), and the end
    of the schedule is no ConvergenceWarning. Early stopping still stops."""
    X, y = digits
    params = dict(max_iter=40, n_iter_no_change=2, tol=1.0, random_state=0)
    constant = BatchNormMLPClassifier(learning_rate="constant", **params)
    _fit_recording(constant, X, y)
    assert constant.n_iter_ < 40
    cosine = BatchNormMLPClassifier(learning_rate="cosine", **params)
    assert _fit_recording(cosine, X, y) == []
    assert cosine.n_iter_ == 40
    stopped = BatchNormMLPClassifier(
        learning_rate="cosine", early_stopping=True, **params
    )
    _fit_recording(stopped, X, y)
    assert stopped.n_iter_ < 40


def test_sample_weights_summing_past_the_dtype_are_refused(iris):
    """float32 weights of 1e38 sum to inf, which would zero every normalised
    batch weight and train nothing: a clear error instead; 1e36 trains."""
    X, y = iris
    X = X.astype(np.float32)
    clf = BatchNormMLPClassifier((8,), max_iter=20, random_state=0)
    with pytest.raises(ValueError, match="sum to more than float32's largest"):
        clf.fit(X, y, sample_weight=np.full(len(y), 1e38))
    _fit_recording(clf, X, y, sample_weight=np.full(len(y), 1e36))
    # Only the weights' ratios matter (alpha's share aside, negligible here).
    reference = BatchNormMLPClassifier((8,), max_iter=20, random_state=0)
    _fit_recording(reference, X, y)
    assert_allclose(clf.predict_proba(X), reference.predict_proba(X), atol=1e-3)


def test_a_model_that_learned_nothing_says_so(digits):
    """Adam at 10 neither explodes nor learns (its loss hovers far above the
    prior's): the fit ends with a warning that names it, not silently at
    chance. Extreme regularisation under the default cosine schedule (which
    raises no max_iter warning) ends a hair below the prior's loss, at
    chance, and gets the same warning."""
    X, y = digits
    # No weight decay: at a rate of 10 it alone would flip and grow the
    # weights (a factor 1 - 10 * 0.3), a divergence.
    for params in (
        dict(learning_rate="constant", learning_rate_init=10.0, weight_decay=0.0),
        dict(alpha=1e6),
    ):
        clf = BatchNormMLPClassifier(max_iter=10, random_state=0, **params)
        messages = _fit_recording(clf, X, y)
        assert len(messages) == 1
        assert "learned nothing" in messages[0]
        assert clf.score(X, y) < 0.5
