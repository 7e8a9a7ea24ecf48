"""Tests of scikit-learn's callbacks (``set_callbacks``, scikit-learn >= 1.9)
on the estimators and on the searches, and of a validation set routed
through a search."""

import re
import threading
import warnings

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor
from skbnnet._compat import CallbackSupportMixin
from skbnnet.model_selection import BudgetWarning

needs_callbacks = pytest.mark.skipif(
    CallbackSupportMixin is None,
    reason="callbacks need scikit-learn >= 1.9 (sklearn.callback)",
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class EpochRecorder:
    """A callback keeping every epoch's ``fitted_estimator``; it asks to
    stop after epoch ``stop_at`` (1-based) or when ``stop_if`` is true of
    the fitted estimator, and raises at epoch ``raise_at``."""

    def __init__(self, stop_at=None, stop_if=None, raise_at=None):
        self.stop_at = stop_at
        self.stop_if = stop_if
        self.raise_at = raise_at
        self.models = []
        self.events = []

    def setup(self, estimator, context):
        self.events.append("setup")

    def teardown(self, estimator, context):
        self.events.append("teardown")

    def on_fit_task_begin(self, estimator, context):
        self.events.append(f"begin {context.task_name}")

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        self.events.append(f"end {context.task_name}")
        if context.task_name != "epoch":
            return False
        self.models.append(fitted_estimator)
        epoch = len(self.models)
        if epoch == self.raise_at:
            raise RuntimeError(f"callback failed at epoch {epoch}")
        return epoch == self.stop_at or bool(
            self.stop_if is not None and self.stop_if(fitted_estimator)
        )


def test_set_callbacks_only_with_sklearn_callbacks():
    """The estimators have set_callbacks exactly when scikit-learn has
    sklearn.callback; older releases fit as before."""
    for estimator in [BatchNormMLPClassifier(), BatchNormMLPRegressor()]:
        assert hasattr(estimator, "set_callbacks") == (CallbackSupportMixin is not None)


@needs_callbacks
@pytest.mark.parametrize("Estimator", [BatchNormMLPClassifier, BatchNormMLPRegressor])
def test_callback_stops_after_its_epoch(digits, Estimator):
    """on_fit_task_end returning True stops training after that very epoch:
    the model is fitted with n_iter_ == k, and no ConvergenceWarning."""
    X, y = digits
    recorder = EpochRecorder(stop_at=4)
    # A constant rate, so that 4 epochs of 30 equal a fit of max_iter=4; no
    # validation split ("auto" holds one out of the regressor's 600 rows).
    estimator = Estimator(
        learning_rate="constant", max_iter=30, early_stopping=False, random_state=0
    ).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        estimator.fit(X, y)
    assert estimator.n_iter_ == 4
    assert len(estimator.loss_curve_) == 4
    assert estimator.t_ == 4 * len(X)
    check_is_fitted(estimator)
    # The model of 4 epochs, as fitted with max_iter=4.
    four = clone(estimator).set_params(max_iter=4)
    four.set_callbacks()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        four.fit(X, y)
    assert_array_equal(estimator.predict(X), four.predict(X))
    assert_array_equal(recorder.models[-1].predict(X), four.predict(X))
    # Each epoch a task of its own, inside the fit, set up and torn down once.
    assert recorder.events == (
        ["setup", "begin fit"]
        + ["begin epoch", "end epoch"] * 4
        + ["end fit", "teardown"]
    )


@needs_callbacks
def test_callback_stop_keeps_the_best_weights(diabetes):
    """Stopped by a callback at an epoch whose validation score is below the
    best one, early stopping still restores the best epoch's parameters."""
    X, y = diabetes
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]

    def got_worse(model):
        return model.n_iter_ > 3 and (
            model.validation_scores_[-1] < model.best_validation_score_
        )

    recorder = EpochRecorder(stop_if=got_worse)
    reg = BatchNormMLPRegressor(
        early_stopping=True,
        n_iter_no_change=1000,
        max_iter=200,
        learning_rate_init=0.05,
        random_state=0,
    ).set_callbacks(recorder)
    reg.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    assert reg.n_iter_ == len(recorder.models) < 200
    assert reg.validation_scores_[-1] < reg.best_validation_score_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert_allclose(reg.score(X_val, y_val), reg.best_validation_score_, rtol=1e-10)
    # The last epoch's fitted_estimator is, like fit's result, the best model.
    assert_array_equal(recorder.models[-1].predict(X_val), reg.predict(X_val))


@needs_callbacks
@pytest.mark.parametrize("batch_norm_stats", ["running", "population"])
def test_fitted_estimator_of_each_epoch(digits, batch_norm_stats):
    """Each epoch's fitted_estimator predicts as fit would have had it
    stopped there: its own parameters (not those trained later), its own
    history, the statistics fit would compute."""
    X, y = digits
    recorder = EpochRecorder()
    clf = BatchNormMLPClassifier(
        learning_rate="constant",
        max_iter=5,
        batch_norm_stats=batch_norm_stats,
        random_state=0,
    ).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert [m.n_iter_ for m in recorder.models] == [1, 2, 3, 4, 5]
    assert [len(m.loss_curve_) for m in recorder.models] == [1, 2, 3, 4, 5]
    first, last = recorder.models[0], recorder.models[-1]
    assert not np.allclose(first.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(last.predict_proba(X), clf.predict_proba(X))
    # A second fit with max_iter=1 is the first epoch's model.
    one = clone(clf).set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one.fit(X, y)
    assert_allclose(first.predict_proba(X), one.predict_proba(X), rtol=1e-12)


@needs_callbacks
def test_diverged_epoch_ends_as_an_empty_task(digits):
    """An epoch cut short by divergence still ends its task (a progress bar
    would otherwise wait for it), with no fitted_estimator."""
    X, y = digits
    recorder = EpochRecorder()
    clf = BatchNormMLPClassifier(
        solver="sgd", learning_rate_init=100.0, max_iter=50, random_state=0
    ).set_callbacks(recorder)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        clf.fit(X, y)
    assert recorder.events.count("begin epoch") == recorder.events.count("end epoch")
    assert len(recorder.models) == clf.n_iter_ + 1
    assert recorder.models[-1] is None
    assert all(model is not None for model in recorder.models[:-1])


@needs_callbacks
def test_scoring_monitor_scores_every_epoch(digits):
    """A real ScoringMonitor gets a usable model at every epoch: one score
    per epoch, the last equal to the fitted model's."""
    from sklearn.callback import ScoringMonitor

    X, y = digits
    monitor = ScoringMonitor(scoring="accuracy")
    clf = BatchNormMLPClassifier(max_iter=6, random_state=0).set_callbacks(monitor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    assert [r["task_id_path"] for r in rows] == [(0, i) for i in range(6)]
    scores = [r["accuracy"] for r in rows]
    assert scores[-1] == pytest.approx(clf.score(X, y))
    assert scores[0] < scores[-1]


@needs_callbacks
def test_partial_fit_is_one_epoch_task(digits):
    X, y = digits
    recorder = EpochRecorder()
    clf = BatchNormMLPClassifier(random_state=0).set_callbacks(recorder)
    clf.partial_fit(X, y, classes=np.unique(y))
    clf.partial_fit(X, y)
    assert recorder.events.count("begin epoch") == 2
    assert [m.n_iter_ for m in recorder.models] == [1, 1]
    assert recorder.models[1].t_ == 2 * len(X)


@needs_callbacks
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_raising_callback_leaves_a_fresh_estimator_unfitted(digits, method):
    """The callback's error propagates, the estimator stays unfitted, and the
    callbacks are still torn down."""
    X, y = digits
    recorder = EpochRecorder(raise_at=1)
    clf = BatchNormMLPClassifier(max_iter=5, random_state=0).set_callbacks(recorder)
    kwargs = {"classes": np.unique(y)} if method == "partial_fit" else {}
    with pytest.raises(RuntimeError, match="callback failed at epoch 1"):
        getattr(clf, method)(X, y, **kwargs)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "classes_") and not hasattr(clf, "n_features_in_")
    assert recorder.events[-1] == "teardown"
    assert not hasattr(clf, "_callback_fit_ctx")


@needs_callbacks
def test_raising_callback_leaves_a_fitted_estimator_as_it_was(digits):
    X, y = digits
    clf = BatchNormMLPClassifier(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    proba, n_iter, coefs = clf.predict_proba(X), clf.n_iter_, clf.coefs_[0].copy()
    recorder = EpochRecorder(raise_at=2)
    clf.set_params(max_iter=10, warm_start=True).set_callbacks(recorder)
    with pytest.raises(RuntimeError, match="callback failed at epoch 2"):
        clf.fit(X[:300], y[:300])
    assert_array_equal(clf.predict_proba(X), proba)
    assert_array_equal(clf.coefs_[0], coefs)
    assert clf.n_iter_ == n_iter
    assert recorder.events[-1] == "teardown"


def _foreground_threads():
    """The non-daemon threads, which would keep Python from exiting."""
    return [thread for thread in threading.enumerate() if not thread.daemon]


@needs_callbacks
def test_progress_bar_of_a_fit(digits, capsys, wide_console):
    """A real ProgressBar draws the fit's bar to 100%, and its drawing thread
    ends, also when the fit fails."""
    from sklearn.callback import ProgressBar

    X, y = digits
    threads = _foreground_threads()
    clf = BatchNormMLPClassifier(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_callbacks(ProgressBar()).fit(X, y)
    out = capsys.readouterr().out
    assert re.search(r"BatchNormMLPClassifier - fit .*100%", out)
    assert _foreground_threads() == threads

    clf.set_callbacks(ProgressBar(), EpochRecorder(raise_at=2))
    with pytest.raises(RuntimeError, match="callback failed at epoch 2"):
        clf.fit(X, y)
    capsys.readouterr()
    assert _foreground_threads() == threads


@needs_callbacks
def test_progress_bar_of_a_grid_search(digits, capsys, wide_console):
    """Through GridSearchCV, each (candidate, fold) fit of the estimator is
    a task of the search, and the estimator's epochs nest inside it."""
    from sklearn.callback import ProgressBar

    X, y = digits
    search = GridSearchCV(
        BatchNormMLPClassifier(max_iter=2, random_state=0),
        {"alpha": [1e-4, 1e-2]},
        cv=2,
    ).set_callbacks(ProgressBar())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - search" in out
    for task_id in range(4):
        assert re.search(
            r"GridSearchCV - candidate-split-evaluation \| "
            rf"BatchNormMLPClassifier - fit #{task_id}",
            out,
        )
    assert not re.search(r"\b[0-9]{1,2}%", out)


class PathRecorder(EpochRecorder):
    """An auto-propagated recorder of the task path of every task's end."""

    max_propagation_depth = None

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        path = []
        while context is not None:
            # A sub-estimator's fit is one task with the search's task.
            source = context.source_task_name
            name = context.task_name
            path.insert(0, name if source is None else f"{source} | {name}")
            context = context.parent
        self.events.append(tuple(path))


def _coarse_to_fine(**params):
    from skbnnet import CoarseToFineSearchCV, LogUniform

    return CoarseToFineSearchCV(
        BatchNormMLPClassifier(max_iter=2, random_state=0),
        {"alpha": LogUniform(1e-5, 1e-1)},
        cv=2,
        random_state=0,
        **params,
    )


@needs_callbacks
def test_coarse_to_fine_rounds_candidates_folds_epochs_nest(digits):
    """CoarseToFineSearchCV's task tree: fit > search > round r > one task
    per (candidate, fold), merged with the estimator's fit > epoch; then the
    refit and its epochs."""
    X, y = digits
    recorder = PathRecorder()
    search = _coarse_to_fine(n_rounds=2, n_iter=3).set_callbacks(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    ends = [event for event in recorder.events if isinstance(event, tuple)]
    fold_fit = "candidate-split-evaluation | fit"
    for round_name in ["round 0", "round 1"]:
        round_path = ("fit", "search", round_name)
        assert ends.count(round_path + (fold_fit, "epoch")) == 3 * 2 * 2
        assert ends.count(round_path + (fold_fit,)) == 3 * 2
        assert ends.count(round_path) == 1
    assert ends.count(("fit", "search")) == 1
    refit = ("fit", "refit-with-best-params | fit")
    assert ends.count(refit + ("epoch",)) == 2
    assert ends.count(refit) == 1
    assert ends[-1] == ("fit",)
    assert recorder.events.count("setup") == recorder.events.count("teardown") == 1


@needs_callbacks
@pytest.mark.parametrize("max_time", [None, 1.5])
def test_progress_bar_of_coarse_to_fine(digits, capsys, wide_console, max_time):
    """A real ProgressBar draws the rounds of CoarseToFineSearchCV, their
    (candidate, fold) fits and the refit, all to 100%; with a time budget
    too, where the number of rounds is not known in advance."""
    from sklearn.callback import ProgressBar

    X, y = digits
    search = _coarse_to_fine(n_rounds=2, n_iter=2, max_time=max_time)
    search.set_callbacks(ProgressBar())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # 1.5 s may not afford the longest fits, or may be overrun.
        warnings.simplefilter("ignore", BudgetWarning)
        search.fit(X, y)
    out = capsys.readouterr().out
    assert "CoarseToFineSearchCV - search" in out
    assert re.search(r"CoarseToFineSearchCV - round 0 #0 .*100%", out)
    assert re.search(r"CoarseToFineSearchCV - round 1 #\d+ .*100%", out)
    assert re.search(
        r"CoarseToFineSearchCV - candidate-split-evaluation \| "
        r"BatchNormMLPClassifier - fit #3 .*100%",
        out,
    )
    assert "CoarseToFineSearchCV - refit-with-best-params" in out
    assert not re.search(r"\b[0-9]{1,2}%", out)


# ---------------------------------------------------------------------------
# A validation set routed through a search


def _fold_fits(estimator, X, y, cv, **fit_params):
    """Test-fold accuracies of the estimator fitted by hand on each fold."""
    scores = []
    for train, test in cv.split(X):
        model = clone(estimator).fit(X[train], y[train], **fit_params)
        scores.append(model.score(X[test], y[test]))
    return scores


@pytest.mark.parametrize("routing", [True, False])
def test_grid_search_routes_the_validation_set(digits, routing):
    """GridSearchCV passes X_val/y_val whole to every fold's fit and to the
    refit, with metadata routing or without: each split's score is that of
    a fit by hand on the fold with the same validation set."""
    X, y = digits
    X_train, y_train, X_val, y_val = X[:400], y[:400], X[400:], y[400:]
    cv = KFold(3)
    estimator = BatchNormMLPClassifier(early_stopping=True, max_iter=6, random_state=0)
    with sklearn.config_context(enable_metadata_routing=routing):
        if routing:
            estimator.set_fit_request(X_val=True, y_val=True)
        search = GridSearchCV(estimator, {"alpha": [1e-4]}, cv=cv)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X_train, y_train, X_val=X_val, y_val=y_val)
            expected = _fold_fits(
                estimator, X_train, y_train, cv, X_val=X_val, y_val=y_val
            )
            refit = clone(estimator).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    split_scores = [search.cv_results_[f"split{i}_test_score"][0] for i in range(3)]
    assert split_scores == expected
    assert search.best_estimator_.validation_scores_ == refit.validation_scores_
    assert search.best_estimator_.score(X_val, y_val) == pytest.approx(
        search.best_estimator_.best_validation_score_
    )


def test_grid_search_cuts_a_validation_set_as_long_as_X(digits):
    """The documented trap: a validation set of exactly len(X) rows is cut by
    each fold's training indices, like sample_weight."""
    X, y = digits
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    cv = KFold(3)
    estimator = BatchNormMLPClassifier(early_stopping=True, max_iter=6, random_state=0)
    search = GridSearchCV(estimator, {"alpha": [1e-4]}, cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train, y_train, X_val=X_val, y_val=y_val)
        cut = [
            clone(estimator)
            .fit(X_train[train], y_train[train], X_val=X_val[train], y_val=y_val[train])
            .score(X_train[test], y_train[test])
            for train, test in cv.split(X_train)
        ]
    assert [search.cv_results_[f"split{i}_test_score"][0] for i in range(3)] == cut


def test_pipeline_transforms_a_routed_validation_set(digits):
    """Pipeline(..., transform_input=["X_val"]) scales X_val like X before
    the classifier validates on it."""
    X, y = digits
    X_raw = X * 7.0 + 3.0
    X_train, y_train, X_val, y_val = X_raw[:400], y[:400], X_raw[400:], y[400:]
    with sklearn.config_context(enable_metadata_routing=True):
        clf = BatchNormMLPClassifier(
            early_stopping=True, max_iter=6, random_state=0
        ).set_fit_request(X_val=True, y_val=True)
        pipe = make_pipeline(StandardScaler(), clf, transform_input=["X_val"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    fitted = pipe[-1]
    assert pipe.score(X_val, y_val) == pytest.approx(fitted.best_validation_score_)
