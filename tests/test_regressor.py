"""Tests of BatchNormMLPRegressor: target scaling, multi-output, the
regression head in training, and its place beside MLPRegressor."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPRegressor


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "load, floor",
    [
        # A linear model's level: the full schedule without early stopping
        # (early_stopping=False, 0.2's default) scores 0.347 here.
        (lambda: load_diabetes(return_X_y=True), 0.35),
        (lambda: make_friedman1(n_samples=2000, noise=1.0, random_state=0), 0.93),
    ],
    ids=["diabetes", "friedman1"],
)
def test_default_beats_mlpregressor(load, floor):
    """With defaults, a StandardScaler pipeline and 25% splits, the
    regressor's mean test R² over five splits is higher than MLPRegressor's
    defaults (which do not scale the target) and above the floor."""
    X, y = load()
    scores = []
    for seed in range(5):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed
        )
        scores.append(
            [
                make_pipeline(StandardScaler(), est)
                .fit(X_train, y_train)
                .score(X_test, y_test)
                for est in (
                    BatchNormMLPRegressor(random_state=0),
                    MLPRegressor(random_state=0),
                )
            ]
        )
    ours, theirs = np.mean(scores, axis=0)
    assert ours > theirs
    assert ours > floor


def test_target_scaling(friedman):
    """Targets are standardised internally and predictions mapped back: a
    target shifted and scaled by 1000 gives the same fit, up to the map."""
    X, y = friedman
    base = BatchNormMLPRegressor((32,), max_iter=20, random_state=0).fit(X, y)
    big = BatchNormMLPRegressor((32,), max_iter=20, random_state=0).fit(
        X, 1000 * y + 5000
    )
    assert_allclose(big.target_mean_, 1000 * base.target_mean_ + 5000, rtol=1e-6)
    assert_allclose(big.target_scale_, 1000 * base.target_scale_, rtol=1e-6)
    assert_allclose(big.predict(X), 1000 * base.predict(X) + 5000, rtol=1e-5)
    raw = BatchNormMLPRegressor((32,), max_iter=20, scale_target=False, random_state=0)
    raw.fit(X, y)
    assert_allclose(raw.target_mean_, 0)
    assert_allclose(raw.target_scale_, 1)


def test_multi_output(friedman):
    """Several targets train one output each; predict keeps their shape, and
    a single target predicts a 1-D array."""
    X, y = friedman
    Y = np.c_[y, -2 * y + 1]
    reg = BatchNormMLPRegressor(
        (32,), max_iter=50, learning_rate_init=0.01, random_state=0
    ).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    assert reg.score(X, Y) > 0.8
    single = BatchNormMLPRegressor((32,), max_iter=5, random_state=0).fit(X, y)
    assert single.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="has 1 targets, but this"):
        reg.partial_fit(X, y)


@pytest.mark.parametrize(
    "n_samples, validating", [(199, False), (200, True), (999, True), (1000, False)]
)
def test_early_stopping_auto_holds_out_a_set_for_small_data(n_samples, validating):
    """early_stopping="auto" (the default) validates fits of 200 to 999 rows
    only, and scores R² on a tenth of them."""
    X, y = make_friedman1(n_samples=n_samples, noise=0.5, random_state=0)
    reg = BatchNormMLPRegressor((8,), max_iter=3, random_state=0).fit(X, y)
    assert (reg.validation_scores_ is not None) == validating
    explicit = BatchNormMLPRegressor(
        (8,), max_iter=3, early_stopping=validating, random_state=0
    ).fit(X, y)
    assert_allclose(reg.predict(X), explicit.predict(X))


def test_early_stopping_auto_waits_a_quarter_of_max_iter():
    """Under "auto" a fit stops after max(n_iter_no_change, max_iter // 4)
    epochs without improvement (the cosine schedule improves late); an
    explicit early_stopping=True waits n_iter_no_change."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 5)), rng.normal(size=300)  # pure noise
    waits = {}
    for early_stopping in ("auto", True):
        reg = BatchNormMLPRegressor(
            (32,), max_iter=200, early_stopping=early_stopping, random_state=0
        ).fit(X, y)
        assert reg.n_iter_ < 200
        waits[early_stopping] = reg.n_iter_ - 1 - np.argmax(reg.validation_scores_)
    assert waits["auto"] > 50
    assert 10 < waits[True] < 50


def test_early_stopping_auto_with_x_val_and_in_partial_fit():
    """ "auto" uses a given X_val whatever the size, and partial_fit (which
    cannot stop early) trains without one instead of raising."""
    X, y = make_friedman1(n_samples=120, noise=0.5, random_state=0)
    reg = BatchNormMLPRegressor((8,), max_iter=3, random_state=0)
    reg.fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    assert len(reg.validation_scores_) == reg.n_iter_
    reg = BatchNormMLPRegressor((8,), random_state=0).partial_fit(X, y)
    assert reg.validation_scores_ is None and reg.n_iter_ == 1
    with pytest.raises(ValueError, match="partial_fit does not support"):
        BatchNormMLPRegressor(early_stopping=True).partial_fit(X, y)


def test_early_stopping_scores_r2(friedman):
    """Early stopping on its own split scores R² (on X_val, the same holds
    for every loss: test_early_stopping_scores_each_loss)."""
    X, y = friedman
    split = BatchNormMLPRegressor(
        (32,), early_stopping=True, max_iter=30, random_state=0
    ).fit(X, y)
    assert split.best_validation_score_ == max(split.validation_scores_)
    assert 0 < split.best_validation_score_ <= 1


def test_partial_fit_and_pickle(friedman):
    """partial_fit continues from the first call's scaling, also after a
    pickle round trip."""
    X, y = friedman
    reg = BatchNormMLPRegressor((32,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
    first = reg.score(X, y)
    reg = pickle.loads(pickle.dumps(reg))
    for _ in range(10):
        reg.partial_fit(X, y)
    assert reg.score(X, y) > first
    assert reg.t_ == 13 * len(X)


def test_divergence_in_regression(friedman):
    """A rate that explodes the squared error is divergence here too."""
    X, y = friedman
    reg = BatchNormMLPRegressor(solver="sgd", learning_rate_init=1e3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isfinite(reg.predict(X)).all()


def _linear_data(n_samples=400):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_samples, 5))
    return X, X @ rng.normal(size=5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "offset, factor",
    [(1e8, 1.0), (0.0, 1e-24), (0.0, 1e39), (0.0, 1e300), (-1e300, 1e290)],
    ids=["offset-1e8", "tiny", "beyond-float32", "near-float64-max", "huge-offset"],
)
def test_target_scaling_in_float64(dtype, offset, factor):
    """The targets' mean and scale are computed, and predictions mapped
    back, in float64 whatever X's dtype: a float32 network fits ``1e8 +
    signal``, targets of 1e-24 or beyond float32's range, as well as
    unit-scale ones (float32 lost the signal under the offset, underflowed
    the scale to 1, or overflowed to inf or NaN)."""
    X, signal = _linear_data()
    X = X.astype(dtype)
    y = offset + factor * signal
    reg = BatchNormMLPRegressor((16,), max_iter=60, random_state=0).fit(X, y)
    assert reg.target_mean_.dtype == reg.target_scale_.dtype == np.float64
    assert_allclose(reg.target_scale_, factor * signal.std(), rtol=1e-6)
    prediction = reg.predict(X)
    assert np.isfinite(prediction).all()
    # R² of the signal part: an offset is known exactly by the scaling.
    residual = (prediction - offset) / factor - signal
    assert 1 - residual.var() / signal.var() > 0.95


def test_target_scaling_ignores_zero_weight_rows():
    """Rows of zero weight do not move the targets' mean or scale."""
    X, y = _linear_data()
    y_outlier = y.copy()
    y_outlier[0] = 1e250
    weight = np.ones_like(y)
    weight[0] = 0
    reg = BatchNormMLPRegressor((8,), max_iter=2, random_state=0)
    reg.fit(X, y_outlier, sample_weight=weight)
    assert_allclose(reg.target_mean_, y[1:].mean())
    assert_allclose(reg.target_scale_, y[1:].std())


def test_unscaled_targets_beyond_float32_error_clearly():
    """Without target scaling a float32 network cannot hold targets beyond
    float32's range: the error says so and names the remedies."""
    X, y = _linear_data()
    reg = BatchNormMLPRegressor(scale_target=False, max_iter=2)
    with pytest.raises(ValueError, match="too large for the network's float32"):
        reg.fit(X.astype(np.float32), 1e39 * y)
    assert not hasattr(reg, "target_mean_")


@pytest.mark.parametrize("kind", ["numeric strings", "datetimes"])
def test_non_numeric_targets_are_refused(kind):
    """Strings and datetimes are not regression targets (MLPRegressor fails
    on them with a NumPy error); the error names the dtype."""
    X, y = _linear_data(30)
    if kind == "numeric strings":
        y = y.round(2).astype(str)
    else:
        y = np.datetime64("2020-01-01") + np.arange(30).astype("timedelta64[D]")
    with pytest.raises(ValueError, match="needs numeric targets, got y of"):
        BatchNormMLPRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="needs numeric targets, got y_val of"):
        BatchNormMLPRegressor(max_iter=2, early_stopping=True).fit(
            X, np.arange(30.0), X_val=X, y_val=y
        )


def test_constant_target_learns_without_a_false_warning():
    """A constant target has a prior loss of 0: fitting it is no failure to
    learn, so no "learned nothing" warning (scikit-learn's
    test_preserve_feature_names fits one), and it is fitted."""
    X, _ = _linear_data(100)
    y = np.full(100, 3.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg = BatchNormMLPRegressor((8,), random_state=0).fit(X, y)
    assert reg.target_mean_ == 3.3 and reg.target_scale_ == 1
    assert_allclose(reg.predict(X), 3.3, atol=0.1)


def test_uncentred_targets_without_scaling_blame_the_targets():
    """``scale_target=False`` with targets around 1000: the untrained
    network's loss is far above the prior's, which is not divergence. The
    fit that gets nowhere says the targets are the cause, not the learning
    rate or the features."""
    X, y = _linear_data()
    reg = BatchNormMLPRegressor((16,), scale_target=False, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        reg.fit(X, y + 1000)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "diverged" not in messages[0]
    assert "learned nothing" in messages[0]
    assert "scale_target=True" in messages[0]
    assert "learning_rate_init" not in messages[0]
    # The same targets scaled fit well.
    assert (
        BatchNormMLPRegressor((16,), random_state=0).fit(X, y + 1000).score(X, y + 1000)
        > 0.95
    )


@pytest.mark.parametrize("Estimator", [BatchNormMLPRegressor, "classifier"])
def test_non_finite_first_loss_raises_like_scikit_learn(Estimator):
    """Unscaled inputs near float64's largest number make the first
    mini-batch's loss non-finite: no model exists to restore, so fit raises
    scikit-learn's ValueError (its test_nonfinite_params) and leaves the
    estimator unfitted, rather than returning one that predicts NaN. The
    default input scaling brings them to unit scale."""
    from skbnnet import BatchNormMLPClassifier

    Estimator = BatchNormMLPClassifier if Estimator == "classifier" else Estimator
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    if Estimator is BatchNormMLPClassifier:
        y = (y > 0).astype(int)
    est = Estimator(input_scaling=None)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
        est.fit(X, y)
    assert not hasattr(est, "n_iter_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scaled = Estimator(max_iter=5).fit(X, y)
    assert np.isfinite(scaled.predict(X).astype(float)).all()


def _skewed_data(n_samples=2000):
    """A smooth signal plus exponential noise: mean, median and quantiles of
    y given x differ by known constants."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(n_samples, 2))
    signal = np.sin(X[:, 0]) + 0.5 * X[:, 1]
    return X, signal, signal + rng.exponential(1.0, size=n_samples)


@pytest.mark.parametrize(
    "params, quantile",
    [
        (dict(loss="absolute_error"), 0.5),
        (dict(loss="quantile", quantile=0.1), 0.1),
        (dict(loss="quantile", quantile=0.9), 0.9),
    ],
    ids=["absolute_error", "quantile-0.1", "quantile-0.9"],
)
def test_quantile_losses_predict_their_quantile(params, quantile):
    """Under exponential noise the absolute error predicts the conditional
    median (signal + log 2) and the pinball loss its quantile: about that
    fraction of targets lies below the predictions, where the squared error
    (the mean, signal + 1) puts 63% below."""
    X, signal, y = _skewed_data()
    reg = BatchNormMLPRegressor((32,), max_iter=60, random_state=0, **params)
    prediction = reg.fit(X, y).predict(X)
    assert np.mean(y < prediction) == pytest.approx(quantile, abs=0.04)
    expected = signal - np.log(1 - quantile)
    assert np.mean(np.abs(prediction - expected)) < 0.25


def test_huber_resists_outliers():
    """A few gross outliers pull the squared error's fit, not Huber's."""
    X, signal, _ = _skewed_data(1000)
    rng = np.random.RandomState(1)
    y = signal + 0.1 * rng.standard_normal(len(signal))
    y[rng.rand(len(y)) < 0.05] += 50.0
    errors = {}
    for loss in ("squared_error", "huber"):
        reg = BatchNormMLPRegressor((32,), max_iter=60, loss=loss, random_state=0)
        errors[loss] = np.mean(np.abs(reg.fit(X, y).predict(X) - signal))
    assert errors["huber"] < 0.5 * errors["squared_error"]


def test_poisson_predicts_positive_rates():
    """loss="poisson" fits counts with a log link: predictions are positive
    means, the targets are not standardised, out_activation_ is "exp" as in
    MLPRegressor, and it beats the squared error's mean Poisson deviance."""
    from sklearn.metrics import mean_poisson_deviance

    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(3000, 3))
    rate = np.exp(1.5 * X[:, 0] - X[:, 1])
    y = rng.poisson(rate)
    reg = BatchNormMLPRegressor((16,), max_iter=60, loss="poisson", random_state=0)
    prediction = reg.fit(X, y).predict(X)
    assert reg.out_activation_ == "exp"
    assert reg.target_mean_ == 0 and reg.target_scale_ == 1
    assert (prediction > 0).all()
    assert mean_poisson_deviance(y, prediction) < 1.15 * mean_poisson_deviance(y, rate)
    # An untrained network starts from the mean rate, not from 1.
    start = BatchNormMLPRegressor((16,), max_iter=1, loss="poisson", random_state=0)
    start.fit(X, 100 * y)
    assert start.predict(X).mean() == pytest.approx(100 * y.mean(), rel=0.3)


def test_loss_errors():
    """Invalid combinations of loss and targets are named."""
    X, y = _linear_data(50)
    with pytest.raises(ValueError, match="loss='quantile' needs the quantile"):
        BatchNormMLPRegressor(loss="quantile", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="requires non-negative y"):
        BatchNormMLPRegressor(loss="poisson", max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="requires non-negative y"):
        BatchNormMLPRegressor(loss="poisson", max_iter=2).fit(X, np.zeros(50))
    reg = BatchNormMLPRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="the loss's link cannot change"):
        reg.set_params(loss="poisson").partial_fit(X, np.abs(y))
    # The quantile may change between calls (the link stays the identity).
    reg.set_params(loss="quantile", quantile=0.7).partial_fit(X, y)


@pytest.mark.parametrize(
    "loss", ["squared_error", "absolute_error", "huber", "quantile", "poisson"]
)
def test_early_stopping_scores_each_loss(loss):
    """With early stopping the validation score is R² for the squared error
    and the negative validation loss for the others: the restored model's
    score on the validation set is best_validation_score_."""
    X, signal, y = _skewed_data(600)
    reg = BatchNormMLPRegressor(
        (16,),
        loss=loss,
        quantile=0.5 if loss == "quantile" else None,
        early_stopping=True,
        max_iter=15,
        random_state=0,
    )
    y = y + 3.0  # positive, for the Poisson loss
    X_val, y_val = X[:100], y[:100]
    reg.fit(X[100:], y[100:], X_val=X_val, y_val=y_val)
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    head = reg._network.head
    if loss == "squared_error":
        assert reg.score(X_val, y_val) == pytest.approx(reg.best_validation_score_)
    else:
        raw = reg._network.raw_output(reg._network.map_inputs(X_val))
        target = (y_val[:, None] - reg.target_mean_) / reg.target_scale_
        loss_value = head.loss_gradient(raw, target, np.full(100, 0.01))
        assert -loss_value == pytest.approx(reg.best_validation_score_)
