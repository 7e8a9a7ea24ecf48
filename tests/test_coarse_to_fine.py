import numbers

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import RandomizedSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils import check_random_state

from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform
from skbnnet.model_selection import CoarseToFineSearchCV, _QuantileWindow

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
    ],
)
def test_invalid_parameters(params, name):
    """Out-of-range n_rounds, top_k, n_iter and zoom raise InvalidParameterError."""
    search = CoarseToFineSearchCV(
        LogisticRegression(), {"C": stats.loguniform(1e-3, 1e2)}, **params
    )
    with pytest.raises(
        ValueError, match=f"The '{name}' parameter of CoarseToFineSearchCV must be"
    ):
        search.fit(X_IRIS, Y_IRIS)
