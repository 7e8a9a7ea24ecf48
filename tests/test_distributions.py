import math
import pickle

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, ParameterSampler, RandomizedSearchCV
from sklearn.neural_network import MLPClassifier

from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform

CONTINUOUS = [
    LogUniform(1e-4, 1),
    LogUniform(0.5, 2000.0),
    OneMinusLogUniform(0.9, 0.999),
    OneMinusLogUniform(1e-3, 0.5),
]
INTEGER = [LogUniformInt(1, 30), LogUniformInt(16, 512), LogUniformInt(7, 8)]
ALL = CONTINUOUS + INTEGER


def _unit_sampling_space(dist, x):
    """Map values of `dist` to [0, 1], where they should be uniform."""
    if isinstance(dist, OneMinusLogUniform):
        low, high = np.log10(1 - dist.high), np.log10(1 - dist.low)
        return (high - np.log10(1 - x)) / (high - low)
    low, high = np.log10(dist.low), np.log10(dist.high)
    return (np.log10(x) - low) / (high - low)


@pytest.mark.parametrize("dist", CONTINUOUS, ids=repr)
def test_continuous_samples_uniform_in_sampling_space(dist):
    """Samples are uniform in log(x), or in log(1 - x) for OneMinusLogUniform."""
    samples = dist.rvs(size=20_000, random_state=0)
    result = stats.kstest(_unit_sampling_space(dist, samples), "uniform")
    assert result.pvalue > 0.01


@pytest.mark.parametrize("dist", [LogUniformInt(1, 30), LogUniformInt(7, 8)], ids=repr)
def test_integer_frequencies_follow_log_pmf(dist):
    """LogUniformInt draws k with probability proportional to log(k+1) - log(k)."""
    k = np.arange(dist.low, dist.high + 1)
    pmf = np.log(k + 1) - np.log(k)
    pmf /= pmf.sum()
    samples = dist.rvs(size=20_000, random_state=0)
    counts = np.array([np.sum(samples == value) for value in k])
    assert counts.sum() == samples.size
    result = stats.chisquare(counts, pmf * samples.size)
    assert result.pvalue > 0.01


@pytest.mark.parametrize("dist", CONTINUOUS, ids=repr)
def test_continuous_cdf_inverts_ppf(dist):
    """cdf(ppf(q)) == q, ppf is monotone and ppf(0), ppf(1) are the bounds."""
    q = np.linspace(0, 1, 1001)
    x = dist.ppf(q)
    np.testing.assert_allclose(dist.cdf(x), q, rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(x) > 0)
    assert dist.ppf(0) == dist.low
    assert dist.ppf(1) == dist.high


@pytest.mark.parametrize("dist", INTEGER, ids=repr)
def test_integer_ppf_is_smallest_k_with_cdf_at_least_q(dist):
    """ppf(q) is the smallest k with cdf(k) >= q, and ppf(cdf(k)) == k."""
    k = np.arange(dist.low, dist.high + 1)
    np.testing.assert_array_equal(dist.ppf(dist.cdf(k)), k)

    q = np.linspace(0, 1, 1001)
    found = dist.ppf(q)
    assert found.dtype == np.int64
    assert np.all(np.diff(found) >= 0)
    assert np.all(dist.cdf(found) >= q)
    above_low = found > dist.low
    assert np.all(dist.cdf(found[above_low] - 1) < q[above_low])
    assert dist.ppf(0) == dist.low
    assert dist.ppf(1) == dist.high


@pytest.mark.parametrize("dist", INTEGER, ids=repr)
def test_integer_cdf_is_step_function(dist):
    """The integer cdf is flat between integers and 0 / 1 outside the support."""
    k = np.arange(dist.low, dist.high + 1)
    np.testing.assert_array_equal(dist.cdf(k + 0.5), dist.cdf(k))
    assert dist.cdf(dist.low - 0.5) == 0
    assert dist.cdf(dist.high) == 1


@pytest.mark.parametrize("dist", CONTINUOUS, ids=repr)
def test_continuous_cdf_outside_support(dist):
    """The cdf is 0 below the support, 1 above it and NaN for NaN."""
    np.testing.assert_array_equal(
        dist.cdf([dist.low / 2, dist.low, dist.high, 1.5 * dist.high]), [0, 0, 1, 1]
    )
    assert math.isnan(dist.cdf(np.nan))


@pytest.mark.parametrize("low, high", [(1e-4, 1.0), (3.0, 700.0)])
def test_log_uniform_matches_scipy(low, high):
    """LogUniform agrees with scipy.stats.loguniform."""
    dist, reference = LogUniform(low, high), stats.loguniform(low, high)
    q = np.linspace(0, 1, 11)
    np.testing.assert_allclose(dist.ppf(q), reference.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(dist.cdf(dist.ppf(q)), reference.cdf(dist.ppf(q)))
    assert dist.mean() == pytest.approx(reference.mean(), rel=1e-12)


def test_one_minus_log_uniform_mean():
    """OneMinusLogUniform's mean is 1 minus the mean of the log-uniform 1 - x."""
    dist = OneMinusLogUniform(0.9, 0.999)
    expected = 1 - stats.loguniform(1 - 0.999, 1 - 0.9).mean()
    assert dist.mean() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dist", INTEGER, ids=repr)
def test_integer_mean_matches_pmf(dist):
    """LogUniformInt's closed-form mean equals the sum over its pmf."""
    k = np.arange(dist.low, dist.high + 1)
    pmf = np.log(k + 1) - np.log(k)
    assert dist.mean() == pytest.approx(np.sum(k * pmf) / pmf.sum(), rel=1e-12)


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_rvs_random_state_semantics(dist):
    """An int seed reproduces; RandomState and Generator are used as is."""
    np.testing.assert_array_equal(
        dist.rvs(size=5, random_state=0), dist.rvs(size=5, random_state=0)
    )
    np.testing.assert_array_equal(
        dist.rvs(size=5, random_state=np.random.RandomState(0)),
        dist.rvs(size=5, random_state=0),
    )
    np.testing.assert_array_equal(
        dist.rvs(size=5, random_state=np.random.default_rng(0)),
        dist.rvs(size=5, random_state=np.random.default_rng(0)),
    )
    # A passed generator is advanced, not copied: successive calls continue it.
    rng = np.random.RandomState(0)
    first, second = dist.rvs(random_state=rng), dist.rvs(random_state=rng)
    np.testing.assert_array_equal([first, second], dist.rvs(size=2, random_state=0))
    assert dist.low <= dist.rvs() <= dist.high


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_value_types(dist):
    """Scalars come back as Python scalars; arrays have the value dtype."""
    scalar_type, dtype = (int, np.int64) if dist in INTEGER else (float, np.float64)
    assert type(dist.rvs(random_state=0)) is scalar_type
    assert type(dist.ppf(0.5)) is scalar_type
    assert type(dist.cdf(dist.low)) is float
    assert dist.rvs(size=(2, 3), random_state=0).dtype == dtype
    assert dist.rvs(size=(2, 3), random_state=0).shape == (2, 3)
    assert dist.ppf([[0.1], [0.9]]).shape == (2, 1)
    assert dist.grid(3).dtype == dtype


def test_samples_pass_sklearn_parameter_validation():
    """Sampled values are accepted by MLPClassifier's parameter validation."""
    MLPClassifier(
        batch_size=LogUniformInt(16, 256).rvs(random_state=0),
        hidden_layer_sizes=(LogUniformInt(8, 128).rvs(random_state=1),),
        learning_rate_init=LogUniform(1e-4, 1).rvs(random_state=2),
        momentum=OneMinusLogUniform(0.9, 0.999).rvs(random_state=3),
        beta_1=OneMinusLogUniform(0.8, 0.99).rvs(random_state=4),
    )._validate_params()


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_samples_inside_support(dist):
    """Every sample lies inside support()."""
    low, high = dist.support()
    assert (low, high) == (dist.low, dist.high)
    samples = dist.rvs(size=10_000, random_state=0)
    assert np.all((samples >= low) & (samples <= high))


@pytest.mark.parametrize("dist", ALL, ids=repr)
@pytest.mark.parametrize("n", [2, 4, 7])
def test_grid(dist, n):
    """grid(n) is sorted, unique, inside the support, with both endpoints."""
    grid = dist.grid(n)
    assert grid.ndim == 1
    assert len(grid) <= n if dist in INTEGER else len(grid) == n
    assert np.all(np.diff(grid) > 0)
    assert grid[0] == dist.low
    assert grid[-1] == dist.high


@pytest.mark.parametrize("dist", CONTINUOUS, ids=repr)
def test_continuous_grid_evenly_spaced_in_sampling_space(dist):
    """A continuous grid is evenly spaced in log(x), or in log(1 - x)."""
    unit = _unit_sampling_space(dist, dist.grid(5))
    np.testing.assert_allclose(unit, np.linspace(0, 1, 5), atol=1e-12)


def test_integer_grid_rounds_and_merges():
    """LogUniformInt.grid rounds a log-spaced grid and drops duplicates."""
    np.testing.assert_array_equal(
        LogUniformInt(16, 512).grid(6), [16, 32, 64, 128, 256, 512]
    )
    np.testing.assert_array_equal(LogUniformInt(1, 3).grid(10), [1, 2, 3])


@pytest.mark.parametrize("n", [1, 0, 2.0, "3", True])
def test_grid_rejects_bad_n(n):
    """grid(n) needs an integer n >= 2."""
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        LogUniform(1e-3, 1).grid(n)


@pytest.mark.parametrize("q", [-0.1, 1.1, np.nan, [0.5, 2]])
@pytest.mark.parametrize("dist", [LogUniform(1e-3, 1), LogUniformInt(1, 10)], ids=repr)
def test_ppf_rejects_q_outside_unit_interval(dist, q):
    """ppf raises on probabilities outside [0, 1] or NaN."""
    with pytest.raises(ValueError, match=r"q must be in \[0, 1\]"):
        dist.ppf(q)


def test_parameter_sampler():
    """ParameterSampler draws in-bounds values of the right type."""
    distributions = {
        "C": LogUniform(1e-3, 1e2),
        "batch_size": LogUniformInt(16, 256),
        "momentum": OneMinusLogUniform(0.9, 0.999),
    }
    params = list(ParameterSampler(distributions, n_iter=20, random_state=0))
    assert len(params) == 20
    for sample in params:
        for name, dist in distributions.items():
            assert dist.low <= sample[name] <= dist.high
        assert type(sample["batch_size"]) is int
    assert params == list(ParameterSampler(distributions, n_iter=20, random_state=0))


def test_randomized_search_cv():
    """RandomizedSearchCV samples C from LogUniform and records it in cv_results_."""
    X, y = load_iris(return_X_y=True)
    dist = LogUniform(1e-3, 1e2)
    search = RandomizedSearchCV(
        LogisticRegression(max_iter=500),
        {"C": dist},
        n_iter=4,
        cv=3,
        random_state=0,
    ).fit(X, y)
    values = np.asarray(search.cv_results_["param_C"], dtype=float)
    assert np.all((values >= dist.low) & (values <= dist.high))
    expected = [p["C"] for p in ParameterSampler({"C": dist}, 4, random_state=0)]
    np.testing.assert_array_equal(values, expected)


def test_grid_search_cv():
    """GridSearchCV takes LogUniform.grid as a candidate list."""
    X, y = load_iris(return_X_y=True)
    grid = LogUniform(1e-3, 1e2).grid(4)
    search = GridSearchCV(LogisticRegression(max_iter=500), {"C": grid}, cv=3)
    search.fit(X, y)
    np.testing.assert_array_equal(
        np.asarray(search.cv_results_["param_C"], dtype=float), grid
    )
    assert search.best_params_["C"] in grid


@pytest.mark.parametrize(
    "dist, expected",
    [
        (LogUniform(1e-4, 1), "LogUniform(0.0001, 1)"),
        (LogUniform(1e-5, 1e20), "LogUniform(1e-05, 1e+20)"),
        (LogUniform(np.float32(0.5), 2.5), "LogUniform(0.5, 2.5)"),
        (LogUniformInt(16, 512), "LogUniformInt(16, 512)"),
        (LogUniformInt(np.int64(1), 10), "LogUniformInt(1, 10)"),
        (OneMinusLogUniform(0.9, 0.999), "OneMinusLogUniform(0.9, 0.999)"),
    ],
)
def test_repr(dist, expected):
    """The repr shows the class and the bounds legibly."""
    assert repr(dist) == expected


@pytest.mark.parametrize("dist", ALL, ids=repr)
def test_pickle_round_trip(dist):
    """A pickled distribution is equal to the original and draws the same samples."""
    restored = pickle.loads(pickle.dumps(dist))
    assert restored == dist
    assert hash(restored) == hash(dist)
    np.testing.assert_array_equal(
        restored.rvs(size=10, random_state=0), dist.rvs(size=10, random_state=0)
    )


def test_equality():
    """Distributions are equal when type and bounds are equal."""
    assert LogUniform(1e-4, 1) == LogUniform(0.0001, 1.0)
    assert LogUniform(1e-4, 1) != LogUniform(1e-4, 2)
    assert LogUniform(1, 10) != LogUniformInt(1, 10)
    assert LogUniform(0.1, 0.9) != OneMinusLogUniform(0.1, 0.9)
    assert len({LogUniformInt(1, 10), LogUniformInt(1, 10)}) == 1


@pytest.mark.parametrize(
    "cls, low, high, match",
    [
        (LogUniform, -1, 1, "low must be > 0, got -1"),
        (LogUniform, 0, 1, "low must be > 0, got 0"),
        (LogUniform, 2, 1, "high must be greater than low"),
        (LogUniform, 1, 1, "high must be greater than low"),
        (LogUniform, np.nan, 1, "low must be finite, got nan"),
        (LogUniform, 1e-3, np.inf, "high must be finite, got inf"),
        (LogUniform, "1e-3", 1, "low must be a real number, got '1e-3'"),
        (LogUniformInt, 0, 10, "low must be > 0, got 0"),
        (LogUniformInt, 10, 10, "high must be greater than low"),
        (LogUniformInt, 1.0, 10, "low must be an integer, got 1.0"),
        (LogUniformInt, 1, 10.5, "high must be an integer, got 10.5"),
        (OneMinusLogUniform, 0, 0.9, "low must be > 0, got 0"),
        (OneMinusLogUniform, 0.9, 1, "high must be < 1, got 1"),
        (OneMinusLogUniform, 0.99, 0.9, "high must be greater than low"),
    ],
)
def test_bad_bounds_raise(cls, low, high, match):
    """Invalid bounds raise a ValueError naming the offending bound."""
    with pytest.raises(ValueError, match=match):
        cls(low, high)
