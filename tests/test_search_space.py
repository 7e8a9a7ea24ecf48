"""default_search_space and to_optuna: contents, and the searches that take them."""

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_iris
from sklearn.ensemble import VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, RandomizedSearchCV, ShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import (
    BatchNormMLPClassifier,
    BatchNormMLPRegressor,
    LogUniform,
    OneMinusLogUniform,
)
from skbnnet.model_selection import (
    CoarseToFineSearchCV,
    default_search_space,
    to_optuna,
    tuning_search,
)

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
PREFIX = "batchnormmlpclassifier__"


def _pipeline():
    return make_pipeline(
        StandardScaler(),
        BatchNormMLPClassifier(max_iter=3, random_state=0),
    )


@pytest.mark.parametrize("shape", [(150, 4), (1797, 64), (5000, 784)])
def test_space_has_the_recipe(shape):
    """Wide and deep stacks, strong regularisation, log scales, cosine."""
    space = default_search_space(np.zeros(shape), np.zeros(shape[0]))
    layers = space["hidden_layer_sizes"]
    assert max(max(sizes) for sizes in layers) >= 1024
    assert {len(sizes) for sizes in layers} == {1, 2, 3}
    assert all(len(set(sizes)) == 1 for sizes in layers)
    assert space["learning_rate_init"] == LogUniform(1e-4, 1e-1)
    assert space["alpha"].high >= 1 and space["weight_decay"].high >= 1
    assert space["dropout"].support() == (0.0, 0.5)
    assert isinstance(space["beta_1"], OneMinusLogUniform)
    assert space["learning_rate"] == ["cosine"]
    # No batch larger than a quarter of a 3-fold training set (or 32).
    n_train = shape[0] - -(-shape[0] // 3)
    assert space["batch_size"].high <= max(32, n_train // 4)
    assert space["batch_size"].low < space["batch_size"].high
    assert set(space) <= set(BatchNormMLPClassifier().get_params())


def test_prefix_and_estimator_filter():
    """The prefix names a pipeline step; the estimator's parameters filter."""
    space = default_search_space(X_IRIS, Y_IRIS, prefix=PREFIX)
    assert all(name.startswith(PREFIX) for name in space)
    with pytest.raises(TypeError, match="got LogisticRegression"):
        default_search_space(X_IRIS, Y_IRIS, estimator=LogisticRegression())


@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_pipeline_gets_the_prefixed_space_of_its_network(prefix):
    """A pipeline's space is its network's, under the step's name, whether
    or not the prefix is also given (it returned {} for a pipeline)."""
    space = default_search_space(X_IRIS, Y_IRIS, prefix=prefix, estimator=_pipeline())
    expected = default_search_space(X_IRIS, Y_IRIS, prefix=PREFIX)
    assert space.keys() == expected.keys()
    assert space[PREFIX + "learning_rate_init"] == LogUniform(1e-4, 1e-1)


def test_meta_estimator_gets_its_networks_space():
    """Any meta-estimator holding a network (here a target transformer)
    gets the network's space; one holding two must say which."""
    meta = TransformedTargetRegressor(regressor=BatchNormMLPRegressor())
    space = default_search_space(X_IRIS, Y_IRIS[:, None] * 1.0, estimator=meta)
    assert space["regressor__weight_decay"] == LogUniform(1e-5, 10.0)
    assert "regressor__label_smoothing" not in space
    two = VotingClassifier(
        [("a", BatchNormMLPClassifier()), ("b", BatchNormMLPClassifier())]
    )
    with pytest.raises(ValueError, match="several skbnnet networks.*a__, b__"):
        default_search_space(X_IRIS, Y_IRIS, estimator=two)
    chosen = default_search_space(X_IRIS, Y_IRIS, estimator=two, prefix="b__")
    assert all(name.startswith("b__") for name in chosen)


@pytest.mark.parametrize(
    "cv, n_train",
    [(3, 100), (KFold(5), 120), (ShuffleSplit(1, test_size=0.5), 75), (None, 120)],
)
def test_cv_splitters_size_the_batches(cv, n_train):
    """Any cv a search takes sizes the largest batch from its smallest
    training set (KFold(5) raised a TypeError)."""
    space = default_search_space(X_IRIS, Y_IRIS, cv=cv)
    # A quarter of the training set, but at least 32.
    assert space["batch_size"].high == max(32, n_train // 4)


@pytest.mark.parametrize("cv", [0, 1])
def test_cv_below_two_folds_is_refused(cv):
    """cv=0 raised a ZeroDivisionError."""
    with pytest.raises(ValueError, match=f"at least 2 folds.*cv={cv}"):
        default_search_space(X_IRIS, Y_IRIS, cv=cv)


@pytest.mark.parametrize("n_samples", [4, 5, 6, 9])
def test_tiny_data_never_draws_a_batch_of_one(n_samples):
    """Batch norm refuses a batch of one row: the space of 5 rows or fewer
    reached 1. Its draws fit."""
    X, y = X_IRIS[:n_samples], np.arange(n_samples) % 2
    space = default_search_space(X, y, cv=2)
    sizes = space["batch_size"]
    draws = sizes if isinstance(sizes, list) else sizes.rvs(200, random_state=0)
    assert min(draws) >= 2
    BatchNormMLPClassifier(batch_size=int(min(draws)), max_iter=2).fit(X, y)


def test_training_sets_of_one_row_are_refused():
    with pytest.raises(ValueError, match="batch norm needs at least 2 rows"):
        default_search_space(X_IRIS[:2], np.arange(2), cv=2)


def test_budgeted_search_refuses_an_empty_space():
    """An empty space gave one empty candidate, or with a budget a bare
    StopIteration."""
    for max_time in [None, 2.0]:
        search = CoarseToFineSearchCV(
            BatchNormMLPClassifier(max_iter=3), {}, max_time=max_time, cv=2
        )
        with pytest.raises(ValueError, match="nothing to search"):
            search.fit(X_IRIS, Y_IRIS)


def test_regressor_space_covers_its_default_weight_decay():
    """A regressor's weight decay reaches 10 (its default is 2); 1 otherwise."""
    regressor = BatchNormMLPRegressor()
    space = default_search_space(X_IRIS, Y_IRIS, estimator=regressor)
    assert space["weight_decay"] == LogUniform(1e-5, 10.0)
    assert space["weight_decay"].low < regressor.weight_decay
    assert regressor.weight_decay < space["weight_decay"].high
    assert "label_smoothing" not in space
    assert default_search_space(X_IRIS, Y_IRIS)["weight_decay"] == LogUniform(1e-5, 1)


@pytest.mark.parametrize("kind", ["randomized", "coarse_to_fine"])
def test_sklearn_and_coarse_to_fine_searches_accept_it(kind):
    """RandomizedSearchCV and CoarseToFineSearchCV fit over the space."""
    space = default_search_space(X_IRIS, Y_IRIS, prefix=PREFIX)
    if kind == "randomized":
        search = RandomizedSearchCV(_pipeline(), space, n_iter=3, cv=2, random_state=0)
    else:
        search = CoarseToFineSearchCV(
            _pipeline(), space, n_iter=2, n_rounds=2, cv=2, random_state=0
        )
    search.fit(X_IRIS, Y_IRIS)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_params_[PREFIX + "learning_rate"] == "cosine"
    # Tuples of hidden_layer_sizes are zoomed on as categories.
    assert all(
        params[PREFIX + "hidden_layer_sizes"] in space[PREFIX + "hidden_layer_sizes"]
        for params in search.cv_results_["params"]
    )


def test_to_optuna_converts_each_distribution():
    """Log scales stay log scales; 1 - x becomes a log-spaced grid."""
    distributions = pytest.importorskip("optuna.distributions")
    space = to_optuna(default_search_space(X_IRIS, Y_IRIS))
    rate = space["learning_rate_init"]
    assert isinstance(rate, distributions.FloatDistribution)
    assert (rate.low, rate.high, rate.log) == (1e-4, 1e-1, True)
    assert isinstance(space["batch_size"], distributions.IntDistribution)
    assert space["batch_size"].log
    assert space["dropout"].low == 0.0 and space["dropout"].high == 0.5
    assert not space["dropout"].log
    beta = space["beta_1"].choices
    assert beta[0] == pytest.approx(0.8) and beta[-1] == pytest.approx(0.99)
    steps = np.diff(np.log(1 - np.array(beta)))
    np.testing.assert_allclose(steps, np.log(0.01 / 0.2) / 8)
    assert (2048,) in space["hidden_layer_sizes"].choices
    with pytest.raises(TypeError, match="No optuna distribution for x"):
        to_optuna({"x": object()})


# optuna's own warnings: OptunaSearchCV is "experimental", and it imports a
# module that optuna deprecated.
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore:OptunaSearchCV is experimental")
def test_optuna_search_cv_accepts_it():
    """optuna's OptunaSearchCV tunes the pipeline over the converted space."""
    pytest.importorskip("optuna_integration")
    import optuna
    from optuna_integration import OptunaSearchCV

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = to_optuna(default_search_space(X_IRIS, Y_IRIS, prefix=PREFIX))
    search = OptunaSearchCV(_pipeline(), space, n_trials=3, cv=2, random_state=0)
    search.fit(X_IRIS, Y_IRIS)
    assert search.n_trials_ == 3
    assert search.best_params_[PREFIX + "learning_rate"] == "cosine"
    assert search.score(X_IRIS, Y_IRIS) > 0.5


def test_tuning_search_chooses_the_epochs_itself():
    """tuning_search trains the network for 60 epochs at most and turns the
    regressor's early_stopping="auto" off, in a pipeline too; an explicit
    early_stopping=True is the user's and stays."""
    X, y = np.random.RandomState(0).normal(size=(300, 4)), np.arange(300.0)
    search = tuning_search(
        make_pipeline(StandardScaler(), BatchNormMLPRegressor()), X, y
    )
    network = search.estimator[-1]
    assert (network.max_iter, network.early_stopping) == (60, False)
    assert search.max_time == 60 and search.n_rounds == 4
    explicit = tuning_search(BatchNormMLPRegressor(early_stopping=True), X, y)
    assert explicit.estimator.early_stopping is True
