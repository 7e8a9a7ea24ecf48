"""The stopping rules of the training loop, tested without training, and
the warnings of a fit pointing at the caller's line."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor
from skbnnet._heads import SoftmaxCrossEntropy, SquaredError
from skbnnet._optimizers import SGDOptimizer
from skbnnet._stopping import DIVERGENCE_FACTOR, LossBounds, Plateau
from skbnnet._training import History, Trainer
from skbnnet.model_selection import BudgetWarning, CoarseToFineSearchCV


def test_divergence_bound_is_a_multiple_of_the_prior_loss():
    bounds = LossBounds(prior_loss=2.0, start_loss=3.0, learning_rate_init=0.1)
    assert bounds.divergence_bound == DIVERGENCE_FACTOR * 3.0
    assert not bounds.exploded(DIVERGENCE_FACTOR * 3.0)
    assert bounds.exploded(DIVERGENCE_FACTOR * 3.0 * 1.01)
    assert bounds.exploded(np.nan) and bounds.exploded(np.inf)
    # Tiny losses (scaled targets near constant) are bounded by 1e4 times 1.
    assert LossBounds(1e-9, 1e-9, 0.1).divergence_bound == DIVERGENCE_FACTOR


def test_bounds_of_a_head_come_from_its_training_rows():
    """A balanced binary target's prior loss is log 2."""
    target = np.array([0, 1, 0, 1])
    bounds = LossBounds.of(
        SoftmaxCrossEntropy(2, 0.0), target, np.ones(4), learning_rate_init=0.01
    )
    assert bounds.prior_loss == pytest.approx(np.log(2))


def test_learned_nothing_needs_five_epochs_near_the_prior():
    bounds = LossBounds(prior_loss=1.0, start_loss=1.0, learning_rate_init=0.1)
    assert not bounds.learned_nothing([1.0] * 4)
    assert bounds.learned_nothing([1.2, 1.1, 1.0, 1.0, 0.995])
    assert not bounds.learned_nothing([1.2, 1.1, 1.0, 1.0, 0.9])
    # A constant target has nothing to learn.
    assert not LossBounds(0.0, 0.0, 0.1).learned_nothing([0.0] * 10)


def test_advice_names_the_rate_or_the_targets():
    assert "(got 0.5)" in LossBounds(1.0, 1.0, 0.5).advice()
    far = LossBounds.of(
        SquaredError(1),
        np.full((4, 1), 1000.0) + np.arange(4)[:, None],
        np.ones(4),
        0.5,
    )
    assert far.far_start
    assert "scale_target=True" in far.advice()
    assert "over" in far.divergence_cause(1e9)
    assert far.divergence_cause(None) == "the parameters became non-finite"
    assert far.divergence_cause(np.inf) == "the loss became non-finite"


def test_plateau_counts_epochs_past_n_iter_no_change():
    plateau = Plateau(tol=1e-4, n_iter_no_change=3)
    assert not plateau.reached(3)
    assert plateau.reached(4)
    assert "Validation score" in plateau.message(validating=True)
    assert "Training loss" in plateau.message(validating=False)


@pytest.mark.parametrize(
    "schedule, validating, stops",
    [
        ("constant", False, True),
        ("constant", True, True),
        # A cosine schedule decides the length itself; validation still stops.
        ("cosine", False, False),
        ("cosine", True, True),
        # The adaptive schedule lowers its rate and starts counting again.
        ("adaptive", False, False),
    ],
)
def test_the_optimiser_owns_its_schedule(schedule, validating, stops):
    optimizer = SGDOptimizer(np.zeros(3), 0.1, lr_schedule=schedule)
    assert optimizer.runs_to_end == (schedule == "cosine")
    trainer = Trainer(None, optimizer, batch_size=2, max_iter=5, n_iter_no_change=2)
    history = History(no_improvement_count=3)
    assert trainer._plateau_stops(history, validating) == stops
    if schedule == "adaptive":
        assert optimizer.learning_rate == pytest.approx(0.02)
        assert history.no_improvement_count == 0


# ---------------------------------------------------------------------------
# Every warning of a fit points at the line that called it.

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS = StandardScaler().fit_transform(X_DIGITS)


def _diverging():
    """Plain SGD at 100 without batch norm overflows within a few epochs."""
    return BatchNormMLPClassifier(
        solver="sgd",
        learning_rate_init=100.0,
        batch_norm=False,
        hidden_layer_sizes=(16,),
        batch_size=32,
        max_iter=30,
    )


def _warnings_of(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return caught


@pytest.mark.parametrize(
    "make, method, match",
    [
        (
            lambda: BatchNormMLPClassifier(batch_size=500, max_iter=1),
            "fit",
            "batch_size",
        ),
        (
            lambda: BatchNormMLPClassifier(learning_rate="constant", max_iter=2),
            "fit",
            "Maximum iterations",
        ),
        (
            lambda: BatchNormMLPClassifier(alpha=1e6, max_iter=10),
            "fit",
            "learned nothing",
        ),
        (
            _diverging,
            "fit",
            "diverged",
        ),
        (
            _diverging,
            "partial_fit",
            "diverged",
        ),
        (
            lambda: BatchNormMLPRegressor(learning_rate="constant", max_iter=2),
            "fit",
            "Maximum iterations",
        ),
    ],
)
def test_warnings_point_at_the_caller(make, method, match):
    """The hand-counted stacklevels, locked: each warning names this file."""
    estimator = make().set_params(random_state=0)
    X, y = X_DIGITS[:300], Y_DIGITS[:300]
    if method == "partial_fit":

        def call():
            for _ in range(30):
                estimator.partial_fit(X, y, classes=np.unique(Y_DIGITS))
    else:

        def call():
            estimator.fit(X, y)

    caught = [w for w in _warnings_of(call) if match in str(w.message)]
    assert caught, f"no warning matching {match!r}"
    assert {w.filename for w in caught} == {__file__}


def test_budget_warnings_point_at_the_caller():
    search = CoarseToFineSearchCV(
        BatchNormMLPClassifier(max_iter=60),
        {"alpha": stats.loguniform(1e-5, 1)},
        max_time=0.5,
        cv=2,
        random_state=0,
    )
    caught = [
        w
        for w in _warnings_of(lambda: search.fit(X_DIGITS, Y_DIGITS))
        if w.category is BudgetWarning
    ]
    assert caught
    assert {w.filename for w in caught} == {__file__}
