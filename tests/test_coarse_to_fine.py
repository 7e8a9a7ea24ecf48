"""CoarseToFineSearchCV: rounds, quantile windows, failures, time budget."""

import numbers
import time
import warnings

import numpy as np
import pytest
from joblib import cpu_count
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_info, threadpool_limits

from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform
from skbnnet.model_selection import BudgetWarning, CoarseToFineSearchCV
from skbnnet.model_selection._coarse_to_fine import _QuantileWindow

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_CLF, Y_CLF = make_classification(
    n_samples=200, n_features=10, n_informative=4, random_state=0
)


def _top(results, round_idx, top_k, key="mean_test_score"):
    """Indices of the best `top_k` finite candidates of rounds before `round_idx`."""
    earlier = np.flatnonzero(results["round"] < round_idx)
    earlier = earlier[np.isfinite(results[key][earlier])]
    return earlier[np.argsort(-results[key][earlier], kind="stable")][:top_k]


def _assert_in_quantile_windows(results, dists, top_k, zoom, key="mean_test_score"):
    """Each later candidate lies in the joint quantile window of a top candidate."""
    for round_idx in range(1, results["round"].max() + 1):
        centres = [results["params"][i] for i in _top(results, round_idx, top_k, key)]
        half = zoom**round_idx / 2
        rows = np.flatnonzero(results["round"] == round_idx)
        for params in (results["params"][i] for i in rows):
            assert any(
                all(
                    abs(dist.cdf(params[name]) - dist.cdf(centre[name])) <= half + 1e-9
                    for name, dist in dists.items()
                )
                for centre in centres
            )


class _RvsOnly:
    """A distribution with `rvs` only, like a user's own sampler."""

    def rvs(self, random_state=None):
        return check_random_state(random_state).uniform(0.1, 10.0)


def test_cv_results_hold_all_rounds():
    """cv_results_ has n_iter candidates per round and a 0-based round column."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": stats.loguniform(1e-3, 1e2)},
        n_iter=4,
        n_rounds=3,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    assert len(results["params"]) == 12
    assert results["round"].dtype.kind == "i"
    np.testing.assert_array_equal(np.bincount(results["round"]), [4, 4, 4])
    for key in ("param_C", "mean_test_score", "rank_test_score", "split2_test_score"):
        assert len(results[key]) == 12
    assert sorted(results["rank_test_score"])[0] == 1


def test_first_round_is_randomized_search():
    """Round 0 draws exactly the candidates of RandomizedSearchCV."""
    params = {"C": stats.loguniform(1e-3, 1e2), "fit_intercept": [True, False]}
    search = CoarseToFineSearchCV(
        LogisticRegression(), params, n_iter=5, n_rounds=2, cv=2, random_state=3
    ).fit(X_IRIS, Y_IRIS)
    randomized = RandomizedSearchCV(
        LogisticRegression(), params, n_iter=5, cv=2, random_state=3
    ).fit(X_IRIS, Y_IRIS)
    assert search.cv_results_["params"][:5] == randomized.cv_results_["params"]


@pytest.mark.parametrize(
    "alpha, l1_ratio",
    [
        (stats.loguniform(1e-6, 1e-1), stats.uniform(0, 1)),
        (LogUniform(1e-6, 1e-1), OneMinusLogUniform(0.5, 0.99)),
    ],
    ids=["scipy", "skbnnet"],
)
def test_later_rounds_in_quantile_windows(alpha, l1_ratio):
    """Later candidates lie in zoom**round windows around earlier top candidates."""
    dists = {"alpha": alpha, "l1_ratio": l1_ratio}
    search = CoarseToFineSearchCV(
        SGDClassifier(penalty="elasticnet", max_iter=20, random_state=0),
        dists,
        n_iter=6,
        n_rounds=4,
        top_k=3,
        zoom=0.4,
        cv=3,
        random_state=0,
    ).fit(X_CLF, Y_CLF)
    _assert_in_quantile_windows(search.cv_results_, dists, top_k=3, zoom=0.4)


def test_log_uniform_narrowed_in_log_space():
    """A LogUniform window of quantile width w spans w of its decades."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": LogUniform(1e-4, 1e2)},
        n_iter=5,
        n_rounds=3,
        top_k=1,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    log_c = np.log10(results["param_C"].astype(float))
    for round_idx in (1, 2):
        (best,) = _top(results, round_idx, top_k=1)
        half_decades = 6 * 0.5**round_idx / 2
        in_round = results["round"] == round_idx
        assert np.all(np.abs(log_c[in_round] - log_c[best]) <= half_decades + 1e-9)


def test_later_rounds_concentrate():
    """With one centre, round r spans at most zoom**r in quantile space."""
    dist = stats.loguniform(1e-4, 1e4)
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": dist},
        n_iter=8,
        n_rounds=3,
        top_k=1,
        zoom=0.5,
        cv=2,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    quantiles = dist.cdf(results["param_C"].astype(float))
    spread = [np.ptp(quantiles[results["round"] == r]) for r in range(3)]
    assert spread[1] <= 0.5 and spread[2] <= 0.25
    assert spread[2] < spread[0]


@pytest.mark.parametrize("sign", [-1, 1], ids=["low-edge", "high-edge"])
@pytest.mark.parametrize(
    "estimator, name, dist",
    [
        (LogisticRegression(), "C", stats.loguniform(1e-10, 1e10)),
        (LogisticRegression(), "C", LogUniform(1e-10, 1e10)),
        (KNeighborsClassifier(), "n_neighbors", stats.randint(1, 50)),
        (KNeighborsClassifier(), "n_neighbors", LogUniformInt(1, 50)),
    ],
    ids=["loguniform", "LogUniform", "randint", "LogUniformInt"],
)
def test_best_at_edge_stays_in_support(estimator, name, dist, sign):
    """Zooming on a best point at the edge of the support never leaves it."""

    def scorer(fitted, X, y):
        return sign * fitted.get_params()[name]

    search = CoarseToFineSearchCV(
        estimator,
        {name: dist},
        n_iter=6,
        n_rounds=4,
        top_k=1,
        scoring=scorer,
        cv=2,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    values = list(results[f"param_{name}"])
    low, high = dist.support()
    assert all(low <= value <= high for value in values)
    if name == "n_neighbors":
        assert all(isinstance(value, numbers.Integral) for value in values)
    last = dist.cdf(np.array(values, dtype=float)[results["round"] == 3])
    assert np.all(last <= 0.5) if sign == -1 else np.all(last >= 0.5)


@pytest.mark.parametrize(
    "dist, centre", [(stats.randint(1, 10), 5), (stats.randint(1, 10), 1)]
)
@pytest.mark.parametrize("width", [0.05, 0.09])
def test_integer_window_centred_on_its_step(dist, centre, width):
    """A narrow window around an integer draws that integer, edge included."""
    window = _QuantileWindow(dist, centre, width)
    rng = np.random.RandomState(0)
    assert {window.rvs(random_state=rng) for _ in range(200)} == {centre}


@pytest.mark.parametrize("centre", [16, 100, 512])
def test_log_uniform_int_window_reaches_centre(centre):
    """LogUniformInt windows stay in the support and reach their centre."""
    dist = LogUniformInt(16, 512)
    window = _QuantileWindow(dist, centre, width=0.1)
    rng = np.random.RandomState(0)
    draws = [window.rvs(random_state=rng) for _ in range(500)]
    assert all(isinstance(draw, int) and 16 <= draw <= 512 for draw in draws)
    assert centre in draws


def test_lists_narrowed_to_top_values():
    """Later rounds draw each list parameter from the top candidates' values."""
    params = {
        "n_neighbors": list(range(1, 31)),
        "weights": ["uniform", "distance"],
        "p": [1, 2],
    }
    search = CoarseToFineSearchCV(
        KNeighborsClassifier(),
        params,
        n_iter=8,
        n_rounds=3,
        top_k=2,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    for round_idx in (1, 2):
        centres = [results["params"][i] for i in _top(results, round_idx, top_k=2)]
        rows = np.flatnonzero(results["round"] == round_idx)
        for name in params:
            drawn = {results["params"][i][name] for i in rows}
            assert drawn <= {centre[name] for centre in centres}


def test_rvs_only_distribution_is_not_narrowed():
    """A distribution without cdf and ppf keeps its full range in later rounds."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": _RvsOnly()},
        n_iter=8,
        n_rounds=3,
        top_k=1,
        zoom=0.01,
        cv=2,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    later = results["param_C"][results["round"] == 2].astype(float)
    assert np.ptp(later) > 2


def test_list_of_dicts_stays_in_top_subspaces():
    """With a list of dicts, later candidates come from the top subspaces."""
    spaces = [
        {"kernel": ["linear"], "C": stats.loguniform(1e-2, 1e2)},
        {
            "kernel": ["rbf"],
            "C": stats.loguniform(1e-2, 1e2),
            "gamma": stats.loguniform(1e-3, 1e1),
        },
    ]
    search = CoarseToFineSearchCV(
        SVC(), spaces, n_iter=6, n_rounds=3, top_k=2, cv=3, random_state=1
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    assert set(results["param_kernel"][results["round"] == 0]) == {"linear", "rbf"}
    for round_idx in (1, 2):
        centres = [results["params"][i] for i in _top(results, round_idx, top_k=2)]
        top_kernels = {centre["kernel"] for centre in centres}
        for i in np.flatnonzero(results["round"] == round_idx):
            params = results["params"][i]
            assert params["kernel"] in top_kernels
            assert ("gamma" in params) == (params["kernel"] == "rbf")


def test_list_of_dicts_with_shared_names_raises():
    """Dicts with the same parameter names are rejected before any fit."""
    spaces = [{"C": [0.1, 1.0]}, {"C": stats.loguniform(1e-2, 1e2)}]
    search = CoarseToFineSearchCV(LogisticRegression(), spaces)
    with pytest.raises(ValueError, match="distinct sets of parameter names"):
        search.fit(X_IRIS, Y_IRIS)
    assert not hasattr(search, "cv_results_")


def test_best_over_all_rounds_and_refit():
    """best_* come from the best row of all rounds and the refit model uses it."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": stats.loguniform(1e-4, 1e2)},
        n_iter=4,
        n_rounds=3,
        cv=3,
        random_state=0,
    ).fit(X_CLF, Y_CLF)
    results = search.cv_results_
    scores = results["mean_test_score"]
    assert search.best_index_ == np.argmax(scores)
    assert search.best_score_ == scores.max()
    assert search.best_params_ == results["params"][search.best_index_]
    assert search.best_estimator_.C == search.best_params_["C"]
    np.testing.assert_array_equal(
        search.predict(X_CLF), search.best_estimator_.predict(X_CLF)
    )


@pytest.mark.parametrize(
    "refit, ranking", [("neg_log_loss", "neg_log_loss"), (False, "accuracy")]
)
def test_multimetric_ranking(refit, ranking):
    """Multi-metric search zooms on the refit metric, or the first if refit=False."""
    dist = stats.loguniform(1e-4, 1e2)
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": dist},
        n_iter=5,
        n_rounds=3,
        top_k=1,
        scoring=["accuracy", "neg_log_loss"],
        refit=refit,
        cv=3,
        random_state=0,
    ).fit(X_CLF, Y_CLF)
    results = search.cv_results_
    key = f"mean_test_{ranking}"
    _assert_in_quantile_windows(results, {"C": dist}, top_k=1, zoom=0.5, key=key)
    if refit:
        assert search.best_index_ == np.argmax(results[key])
        assert search.best_estimator_.C == search.best_params_["C"]
    else:
        assert not hasattr(search, "best_params_")


def test_failed_fits_get_error_score_and_are_not_zoomed_on():
    """error_score=nan scores failed fits NaN, with a warning, and skips them."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": [-1.0, 1.0], "tol": stats.loguniform(1e-5, 1e-3)},
        n_iter=6,
        n_rounds=3,
        top_k=6,
        cv=2,
        random_state=0,
    )
    with pytest.warns(FitFailedWarning), pytest.warns(UserWarning, match="non-finite"):
        search.fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    failed = np.array([params["C"] < 0 for params in results["params"]])
    assert failed[results["round"] == 0].any()
    assert np.all(np.isnan(results["mean_test_score"][failed]))
    assert np.all(np.isfinite(results["mean_test_score"][~failed]))
    assert not failed[results["round"] > 0].any()
    assert search.best_params_["C"] == 1.0


def test_error_score_raise():
    """error_score='raise' propagates the estimator's error."""
    search = CoarseToFineSearchCV(
        LogisticRegression(),
        {"C": [-1.0], "tol": stats.loguniform(1e-5, 1e-3)},
        n_iter=2,
        cv=2,
        error_score="raise",
    )
    with pytest.raises(ValueError, match="'C' parameter of LogisticRegression"):
        search.fit(X_IRIS, Y_IRIS)


def test_random_state_reproducible():
    """The same random_state draws the same candidates in every round."""

    def candidates(random_state):
        return (
            CoarseToFineSearchCV(
                KNeighborsClassifier(),
                {"n_neighbors": stats.randint(1, 30), "p": [1, 2]},
                n_iter=4,
                n_rounds=3,
                cv=2,
                random_state=random_state,
            )
            .fit(X_IRIS, Y_IRIS)
            .cv_results_["params"]
        )

    assert candidates(0) == candidates(0)
    assert candidates(0) != candidates(1)


def test_n_jobs_does_not_change_results():
    """n_jobs=2 evaluates the same candidates to the same scores as n_jobs=1."""
    results = [
        CoarseToFineSearchCV(
            LogisticRegression(),
            {"C": stats.loguniform(1e-3, 1e2)},
            n_iter=4,
            n_rounds=2,
            cv=2,
            n_jobs=n_jobs,
            random_state=0,
        )
        .fit(X_IRIS, Y_IRIS)
        .cv_results_
        for n_jobs in (1, 2)
    ]
    assert results[0]["params"] == results[1]["params"]
    np.testing.assert_array_equal(
        results[0]["mean_test_score"], results[1]["mean_test_score"]
    )


def test_pipeline_parameters():
    """Pipeline step prefixes are searched and narrowed like plain names."""
    dist = LogUniform(1e-3, 1e2)
    search = CoarseToFineSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression()),
        {"logisticregression__C": dist},
        n_iter=4,
        n_rounds=3,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    _assert_in_quantile_windows(
        results, {"logisticregression__C": dist}, top_k=3, zoom=0.5
    )
    assert isinstance(search.best_estimator_, Pipeline)
    best_c = search.best_params_["logisticregression__C"]
    assert search.best_estimator_[-1].C == best_c


def test_verbose_prints_one_line_per_round(capsys):
    """verbose=1 prints one summary line per round; verbose=0 prints nothing."""
    params = {"C": stats.loguniform(1e-3, 1e2)}
    CoarseToFineSearchCV(
        LogisticRegression(), params, n_iter=2, n_rounds=3, cv=2, random_state=0
    ).fit(X_IRIS, Y_IRIS)
    assert capsys.readouterr().out == ""
    CoarseToFineSearchCV(
        LogisticRegression(),
        params,
        n_iter=2,
        n_rounds=3,
        cv=2,
        verbose=1,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    lines = capsys.readouterr().out.splitlines()
    rounds = [line for line in lines if line.startswith("[CoarseToFineSearchCV]")]
    assert len(rounds) == 3
    assert rounds[2].startswith("[CoarseToFineSearchCV] round 2: 2 candidates")


@pytest.mark.parametrize(
    "params, name",
    [
        ({"n_rounds": 0}, "n_rounds"),
        ({"top_k": 0}, "top_k"),
        ({"n_iter": 0}, "n_iter"),
        ({"zoom": 0.0}, "zoom"),
        ({"zoom": 1.0}, "zoom"),
        ({"zoom": 1.5}, "zoom"),
        ({"max_time": 0}, "max_time"),
        ({"max_time": -1.0}, "max_time"),
    ],
)
def test_invalid_parameters(params, name):
    """Out-of-range n_rounds, top_k, n_iter, zoom, max_time: InvalidParameterError."""
    search = CoarseToFineSearchCV(
        LogisticRegression(), {"C": stats.loguniform(1e-3, 1e2)}, **params
    )
    with pytest.raises(
        ValueError, match=f"The '{name}' parameter of CoarseToFineSearchCV must be"
    ):
        search.fit(X_IRIS, Y_IRIS)


class _FailsBelow(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; fit fails when ``x < 0.5``."""

    def __init__(self, x=1.0):
        self.x = x

    def fit(self, X, y):
        if self.x < 0.5:
            raise ValueError(f"x={self.x} is too small")
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X):
        return np.full(len(X), self.majority_)


def test_round_whose_fits_all_fail_is_recorded_and_search_goes_on():
    """A round of only failed fits gets NaN scores; later rounds still run.

    With random_state=2 both candidates of round 0 draw ``x < 0.5``.
    """
    search = CoarseToFineSearchCV(
        _FailsBelow(),
        {"x": stats.uniform(0, 1)},
        n_iter=2,
        n_rounds=3,
        cv=2,
        random_state=2,
    )
    with pytest.warns((FitFailedWarning, UserWarning)) as record:
        search.fit(X_IRIS, Y_IRIS)
    messages = [str(w.message) for w in record]
    assert any("All the 4 fits of this round failed" in m for m in messages)
    results = search.cv_results_
    np.testing.assert_array_equal(results["round"], [0, 0, 1, 1, 2, 2])
    assert np.all(np.isnan(results["mean_test_score"][:2]))
    assert np.isfinite(results["mean_test_score"][2:]).any()
    assert search.n_rounds_ == 3
    assert search.best_params_["x"] >= 0.5


@pytest.mark.parametrize("max_time", [None, 5.0])
def test_raises_only_when_every_fit_of_every_round_failed(max_time):
    """The error names all the fits of all rounds."""
    search = CoarseToFineSearchCV(
        _FailsBelow(),
        {"x": stats.uniform(0, 0.4)},
        n_iter=2,
        n_rounds=2,
        cv=2,
        max_time=max_time,
        random_state=0,
    )
    with (
        pytest.warns((FitFailedWarning, UserWarning)),
        pytest.raises(ValueError, match=r"All the \d+ fits of the \d+ round"),
    ):
        search.fit(X_IRIS, Y_IRIS)


class _Sleeper(ClassifierMixin, BaseEstimator):
    """A classifier whose fit takes ``max_iter * seconds_per_epoch`` seconds.

    Its accuracy grows with ``max_iter`` and is best near ``x = 0.3``, so that
    promotions and the final choice are predictable.
    """

    def __init__(self, x=0.5, max_iter=27, seconds_per_epoch=0.004):
        self.x = x
        self.max_iter = max_iter
        self.seconds_per_epoch = seconds_per_epoch

    def fit(self, X, y):
        time.sleep(self.max_iter * self.seconds_per_epoch)
        self.classes_ = np.unique(y)
        return self

    def score(self, X, y):
        return 1.0 - abs(self.x - 0.3) - 1.0 / self.max_iter


# A budget too short for max_iter epochs says so; the tests of the plan
# below use such budgets on purpose.
SHORT_REFIT = "ignore::skbnnet.model_selection.BudgetWarning"


def _budget_search(max_time, **params):
    return CoarseToFineSearchCV(
        _Sleeper(),
        {"x": stats.uniform(0, 1)},
        max_time=max_time,
        cv=2,
        random_state=0,
        **params,
    )


@pytest.mark.filterwarnings(SHORT_REFIT)
def test_budget_halves_epochs_round_after_round():
    """Many short fits, then the best third retrained 3 times longer.

    cv_results_ records each candidate's round and epoch budget
    (``n_resources``, also its ``max_iter``); the best candidate is among
    the longest fits; the whole search, refit included, ends near the budget.
    """
    search = _budget_search(4.0)
    start = time.perf_counter()
    search.fit(X_IRIS, Y_IRIS)
    elapsed = time.perf_counter() - start
    results = search.cv_results_
    rounds, epochs = results["round"], results["n_resources"]
    assert search.n_rounds_ >= 3
    assert np.all(np.diff(rounds) >= 0)
    np.testing.assert_array_equal(results["param_max_iter"], epochs)
    # The planned ladder: 27 / 9, 27 / 3, 27, and 27 for the extra rounds.
    for round_idx, expected in enumerate([3, 9, 27]):
        assert np.all(epochs[rounds == round_idx] == expected)
    assert np.all(epochs[rounds >= 3] == 27)
    counts = np.bincount(rounds)
    assert counts[0] > counts[1] > 0
    # Round 1 retrains the best of round 0 first.
    round0 = np.flatnonzero(rounds == 0)
    best0 = round0[np.argmax(results["mean_test_score"][round0])]
    first1 = np.flatnonzero(rounds == 1)[0]
    assert results["params"][first1]["x"] == results["params"][best0]["x"]
    assert epochs[search.best_index_] == 27
    assert search.best_estimator_.max_iter == 27
    # Generous: the sleeps alone are predictable, the machine may be busy.
    assert elapsed < 2 * 4.0


@pytest.mark.filterwarnings(SHORT_REFIT)
def test_budget_launches_no_batch_past_the_deadline(monkeypatch):
    """Every batch is predicted to end before the deadline when launched.

    The fits sleep for a known time, so a batch's prediction is checked
    against its launch time and the deadline, whatever the machine's load.
    """
    search = _budget_search(2.0, n_jobs=1)
    launches = []
    original = search._run_search

    def run_search(evaluate_candidates):
        def evaluate(candidates, **kwargs):
            launches.append((time.perf_counter(), list(candidates)))
            return evaluate_candidates(candidates, **kwargs)

        return original(evaluate)

    monkeypatch.setattr(search, "_run_search", run_search)
    start = time.perf_counter()
    search.fit(X_IRIS, Y_IRIS)
    for launched, candidates in launches[1:]:
        # Two splits of max_iter * 4 ms each; the refit is one more fit.
        sleep = sum(2 * c["max_iter"] * 0.004 for c in candidates)
        assert launched - start + sleep <= 2.0
    assert len(launches) > 3


@pytest.mark.filterwarnings(SHORT_REFIT)
def test_budget_rounds_are_prefixes_of_one_stream():
    """With a budget, round 0 draws a prefix of a stream fixed by random_state.

    How many candidates fit in a round depends on measured times; which
    ones does not.
    """
    short = _budget_search(1.0).fit(X_IRIS, Y_IRIS).cv_results_
    long = _budget_search(3.0).fit(X_IRIS, Y_IRIS).cv_results_
    first = [p["x"] for p, r in zip(short["params"], short["round"]) if r == 0]
    second = [p["x"] for p, r in zip(long["params"], long["round"]) if r == 0]
    n = min(len(first), len(second))
    assert n >= 2
    assert first[:n] == second[:n]


def test_budget_without_epochs_parameter_plans_rounds():
    """An estimator without max_iter gets budgeted rounds of full fits."""
    search = CoarseToFineSearchCV(
        KNeighborsClassifier(),
        {"n_neighbors": stats.randint(1, 30)},
        max_time=1.5,
        cv=3,
        random_state=0,
    ).fit(X_IRIS, Y_IRIS)
    assert "n_resources" not in search.cv_results_
    assert search.n_rounds_ >= 2
    assert search.best_score_ > 0.9


class _Overfitter(_Sleeper):
    """A `_Sleeper` whose score falls with ``max_iter``: longer fits overfit."""

    def score(self, X, y):
        return 1.0 - abs(self.x - 0.3) - self.max_iter / 100


def test_budget_keeps_the_best_of_every_round(capsys):
    """The final model is the best CV score of all rounds, refit with the
    epochs it was scored at: longer fits that score worse do not replace it
    (a budgeted search returned its last round's best, CV R² 0.12, where
    round 0 held 0.33). verbose says the last round did worse."""
    search = CoarseToFineSearchCV(
        _Overfitter(),
        {"x": stats.uniform(0, 1)},
        max_time=3.0,
        cv=2,
        random_state=0,
        verbose=1,
    )
    with pytest.warns(BudgetWarning, match="trained for 3 of max_iter=27 epochs"):
        search.fit(X_IRIS, Y_IRIS)
    results = search.cv_results_
    assert results["n_resources"].max() > 3
    assert results["round"][search.best_index_] == 0
    assert search.best_params_["max_iter"] == 3
    assert search.best_estimator_.max_iter == 3
    assert search.best_score_ == np.max(results["mean_test_score"])
    assert "the last round's best score" in capsys.readouterr().out


@pytest.mark.filterwarnings(SHORT_REFIT)
@pytest.mark.parametrize("own, first", [(0.25, 0.25), (7.0, None)])
def test_budget_starts_from_the_estimator_as_given(own, first):
    """The first candidate has the estimator's own values where the space
    can draw them (the others as drawn), so the search has scored the
    configuration it was given."""
    search = CoarseToFineSearchCV(
        _Sleeper(x=own), {"x": stats.uniform(0, 1)}, max_time=1.0, cv=2
    ).fit(X_IRIS, Y_IRIS)
    drawn = search.cv_results_["params"][0]["x"]
    if first is None:
        assert 0 <= drawn <= 1
    else:
        assert drawn == first


def test_budget_overrun_warns():
    """A search that ends more than 10% past max_time says so."""
    slow = _Sleeper(seconds_per_epoch=0.1)
    search = CoarseToFineSearchCV(
        slow, {"x": stats.uniform(0, 1)}, max_time=0.3, cv=2, random_state=0
    )
    start = time.perf_counter()
    with (
        warnings.catch_warnings(),
        pytest.warns(BudgetWarning, match="more than its budget of max_time=0.3 s"),
    ):
        warnings.filterwarnings("ignore", "The refitted model", BudgetWarning)
        search.fit(X_IRIS, Y_IRIS)
    assert time.perf_counter() - start > 1.1 * 0.3


class _ThreadCounter(_Sleeper):
    """A `_Sleeper` that records how many BLAS threads its fit had."""

    def fit(self, X, y):
        super().fit(X, y)
        self.blas_threads_ = max(
            (
                pool["num_threads"]
                for pool in threadpool_info()
                if pool["user_api"] == "blas"
            ),
            default=None,
        )
        return self


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_budget_refit_gets_one_workers_share_of_blas_threads(n_jobs):
    """The refit runs in this process with the BLAS threads each of the
    n_jobs workers had when the budget timed their fits, one for n_jobs=1
    (with every core's threads it ran several times longer than planned)."""
    if cpu_count() < 2:
        pytest.skip("needs 2 cores")
    with threadpool_limits(cpu_count(), user_api="blas"):
        if _ThreadCounter().fit(X_IRIS, Y_IRIS).blas_threads_ != cpu_count():
            pytest.skip("this BLAS does not run one thread per core")
        search = CoarseToFineSearchCV(
            _ThreadCounter(),
            {"x": stats.uniform(0, 1)},
            max_time=2.0,
            cv=2,
            n_jobs=n_jobs,
            random_state=0,
        )
        with warnings.catch_warnings():
            # Starting the workers on a busy machine may overrun 2 s.
            warnings.simplefilter("ignore", BudgetWarning)
            search.fit(X_IRIS, Y_IRIS)
        expected = cpu_count() // 2 if n_jobs == 2 else 1
        assert search.best_estimator_.blas_threads_ == expected
        unlimited = CoarseToFineSearchCV(
            _ThreadCounter(), {"x": [0.3]}, n_iter=1, n_rounds=1, cv=2, n_jobs=2
        ).fit(X_IRIS, Y_IRIS)
        assert unlimited.best_estimator_.blas_threads_ == cpu_count()


def test_budget_plan_is_exposed_like_halving_search():
    """n_rounds_, n_candidates_ and n_resources_ give the plan per round, as
    HalvingRandomSearchCV's attributes do, and add up to cv_results_."""
    search = _budget_search(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BudgetWarning)
        search.fit(X_IRIS, Y_IRIS)
    rounds = search.cv_results_["round"]
    assert len(search.n_candidates_) == search.n_rounds_ == rounds.max() + 1
    assert search.n_candidates_ == np.bincount(rounds).tolist()
    assert search.n_resources_ == [
        int(search.cv_results_["n_resources"][rounds == r][0])
        for r in range(search.n_rounds_)
    ]
    plain = CoarseToFineSearchCV(
        _Sleeper(), {"x": stats.uniform(0, 1)}, n_iter=3, n_rounds=2, cv=2
    ).fit(X_IRIS, Y_IRIS)
    assert plain.n_candidates_ == [3, 3]
    assert not hasattr(plain, "n_resources_")


def test_renamed_sklearn_check_degrades_to_sklearn_behaviour(monkeypatch):
    """Should scikit-learn rename the private check the search swaps while
    it fits, nothing is swapped: searches still work, and a round whose fits
    all fail raises as in scikit-learn instead of being recorded."""
    from skbnnet import _compat

    monkeypatch.setattr(_compat, "_FIT_FAILURE_CHECK", "_a_name_sklearn_dropped")
    fine = CoarseToFineSearchCV(
        _Sleeper(), {"x": stats.uniform(0, 1)}, n_iter=2, n_rounds=2, cv=2
    ).fit(X_IRIS, Y_IRIS)
    assert fine.n_rounds_ == 2
    failing = CoarseToFineSearchCV(
        SVC(), {"C": [-1.0]}, n_iter=1, n_rounds=2, cv=2, error_score=np.nan
    )
    with pytest.raises(ValueError, match="All the 2 fits failed"):
        failing.fit(X_IRIS, Y_IRIS)
