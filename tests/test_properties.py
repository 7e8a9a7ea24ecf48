"""Property-based tests (hypothesis) of the classifier, the network's gradient
and the distributions.

Every test is derandomized: hypothesis draws the same examples on every run,
so CI is reproducible. Data sets are generated from a seed that hypothesis
draws, not element by element: the properties are about architectures and
options, and element-wise data would mostly find degenerate inputs (two
near-identical rows in a batch of two) that say nothing about them.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from skbnnet import BatchNormMLPClassifier
from skbnnet._embeddings import PeriodicEmbedding
from skbnnet._ensemble import MemberAdapters
from skbnnet._heads import (
    AbsoluteError,
    Huber,
    LogisticCrossEntropy,
    Poisson,
    Quantile,
    SoftmaxCrossEntropy,
    SquaredError,
)
from skbnnet._network import Network, Workspace
from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform

N_SAMPLES, N_FEATURES = 24, 3

# Tolerances of a sum of a few probabilities, or of the same product computed
# with another BLAS blocking: a few units in the last place of the dtype.
ATOL = {np.float32: 1e-6, np.float64: 1e-12}
RTOL = {np.float32: 1e-5, np.float64: 1e-12}

architectures = st.lists(st.integers(1, 8), max_size=2).map(tuple)
activations = st.sampled_from(["identity", "logistic", "tanh", "relu"])
solvers = st.sampled_from(["sgd", "adam", "rmsprop"])
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**16)


def _data(seed, n_classes, dtype):
    """Standard normal features; every class present."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(dtype)
    y = rng.permutation(np.arange(N_SAMPLES) % n_classes)
    return X, y


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    hidden_layer_sizes=architectures,
    activation=activations,
    solver=solvers,
    batch_size=st.integers(1, N_SAMPLES),
    batch_norm=st.booleans(),
    dropout=st.sampled_from([0.0, 0.3]),
    dtype=dtypes,
    n_classes=st.integers(2, 3),
    seed=seeds,
    rows=st.lists(st.integers(0, N_SAMPLES - 1), min_size=1, max_size=N_SAMPLES),
)
def test_predictions_are_probabilities_independent_of_the_batch(
    hidden_layer_sizes,
    activation,
    solver,
    batch_size,
    batch_norm,
    dropout,
    dtype,
    n_classes,
    seed,
    rows,
):
    """Any small network predicts finite probabilities summing to one, and a
    row's prediction is the same alone, in any subset or in any order."""
    # Batch norm refuses one-row batches (tests/test_bad_input.py).
    assume(batch_size > 1 or not batch_norm)
    X, y = _data(seed, n_classes, dtype)
    clf = BatchNormMLPClassifier(
        hidden_layer_sizes=hidden_layer_sizes,
        activation=activation,
        solver=solver,
        batch_size=batch_size,
        batch_norm=batch_norm,
        dropout=dropout,
        learning_rate_init=0.01,
        max_iter=3,
        random_state=seed,
    ).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (N_SAMPLES, n_classes)
    assert proba.dtype == dtype
    assert np.isfinite(proba).all()
    assert (proba >= 0).all()
    assert_allclose(proba.sum(axis=1), 1, rtol=0, atol=ATOL[dtype])
    tolerance = dict(rtol=RTOL[dtype], atol=ATOL[dtype])
    assert_allclose(clf.predict_proba(X[rows]), proba[rows], **tolerance)
    assert_allclose(clf.predict_proba(X[rows[:1]]), proba[rows[:1]], **tolerance)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    hidden_layer_sizes=architectures,
    activation=activations,
    solver=solvers,
    batch_size=st.integers(1, N_SAMPLES),
    batch_norm=st.booleans(),
    n_classes=st.integers(2, 3),
    seed=seeds,
)
def test_float32_and_float64_fits_agree(
    hidden_layer_sizes, activation, solver, batch_size, batch_norm, n_classes, seed
):
    """The same seed gives the same model in float32 and float64, to 1e-3.

    The initial weights are drawn in float64 and cast, so both fits start
    within float32 rounding (1e-7 relative) of each other; every step then
    adds float32 round-off, which training amplifies. Two epochs at a small
    learning rate (1e-3) keep the accumulated difference far below 1e-3 in
    probability, which would still catch a real dtype bug (a parameter, a
    statistic or the data cast wrongly changes probabilities by far more).

    Adam and RMSprop divide each step by ``sqrt(v) + epsilon``: with the
    default epsilon of 1e-8, a gradient that is mathematically almost zero
    (batch norm over a two-row batch maps any weights to about +-1) but
    carries float32 round-off of 1e-8 becomes a full step of size lr in a
    random direction, in float32 only. ``epsilon=1e-4`` damps steps of such
    sub-1e-4 gradients, so the comparison measures rounding, not Adam's
    normalisation of noise. Dropout is left out: its masks are drawn in the
    computation dtype, so the two fits drop different units.
    """
    assume(batch_size > 1 or not batch_norm)
    X, y = _data(seed, n_classes, np.float64)
    params = dict(
        hidden_layer_sizes=hidden_layer_sizes,
        activation=activation,
        solver=solver,
        batch_size=batch_size,
        batch_norm=batch_norm,
        learning_rate_init=1e-3,
        max_iter=2,
        epsilon=1e-4,
        random_state=seed,
    )
    proba64 = BatchNormMLPClassifier(**params).fit(X, y).predict_proba(X)
    clf32 = BatchNormMLPClassifier(**params).fit(X.astype(np.float32), y)
    proba32 = clf32.predict_proba(X.astype(np.float32))
    assert proba32.dtype == np.float32
    assert_allclose(proba32, proba64, rtol=0, atol=1e-3)


def _pre_activations(network, X, workspace):
    """Inputs of the hidden activations in the last training-mode pass."""
    m = X.shape[0]
    views = network.views
    result = []
    for i in range(network.n_layers - 1):
        if network.batch_norm:
            Z = workspace.x_hat[i][:m] * views.gammas[i] + views.betas[i]
        else:
            layer_input = X if i == 0 else workspace.outputs[i - 1][:m]
            Z = layer_input @ views.coefs[i] + views.intercepts[i]
        result.append(Z)
    return result


def _loss(network, X, target, sample_weight, alpha, grads, workspace):
    weight_sum = sample_weight.sum()
    # A fresh generator per call draws the same dropout masks every time.
    workspace.dropout_rng = np.random.default_rng(0)
    return network.loss_and_gradient(
        X, target, sample_weight / weight_sum, grads, workspace, alpha / weight_sum
    )


def _head(out, n_outputs, smoothing):
    """A head by the name of its loss (its link for the first three)."""
    return {
        "softmax": lambda: SoftmaxCrossEntropy(n_outputs, smoothing),
        "logistic": lambda: LogisticCrossEntropy(n_outputs, smoothing),
        "identity": lambda: SquaredError(n_outputs),
        "absolute_error": lambda: AbsoluteError(n_outputs),
        "huber": lambda: Huber(n_outputs, delta=0.5),
        "quantile": lambda: Quantile(n_outputs, 0.3),
        "poisson": lambda: Poisson(n_outputs),
    }[out]()


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize(
    "out, smoothing",
    [
        ("softmax", 0.0),
        ("softmax", 0.2),
        ("logistic", 0.0),
        ("logistic", 0.2),
        ("identity", 0.0),
        ("absolute_error", 0.0),
        ("huber", 0.0),
        ("quantile", 0.0),
        ("poisson", 0.0),
    ],
)
@pytest.mark.parametrize("dropout", [0.0, 0.3])
@settings(max_examples=5, deadline=None, derandomize=True)
@given(
    n_features=st.integers(1, 4),
    hidden=st.lists(st.integers(1, 5), max_size=2),
    n_outputs=st.integers(1, 3),
    alpha=st.sampled_from([0.0, 0.1, 0.3]),
    n_rows=st.integers(2, 6),
    seed=seeds,
)
# Two hidden layers, 7 rows and an L2 penalty in every combination.
@example(n_features=5, hidden=[6, 4], n_outputs=2, alpha=0.3, n_rows=7, seed=0)
def test_gradient_matches_finite_differences(
    activation,
    batch_norm,
    out,
    smoothing,
    dropout,
    n_features,
    hidden,
    n_outputs,
    alpha,
    n_rows,
    seed,
):
    """Backprop equals central finite differences (relative error < 1e-6) for
    every activation, with and without batch norm, for every head
    (softmax and logistic cross-entropy with and without label smoothing,
    the squared, absolute, Huber, pinball and Poisson losses of the
    regressor), with and without dropout, and for any architecture and L2
    penalty. The absolute and pinball losses are not differentiable where a
    residual is 0, which random targets reach with probability 0.

    ReLU is not differentiable at 0: examples where a ReLU input lies within
    1e-4 of its kink, which a finite-difference step could cross, are
    discarded with ``assume``.
    """
    n_outputs = n_outputs + 1 if out == "softmax" else n_outputs
    units = [n_features, *hidden, n_outputs]
    network = Network(
        units,
        activation,
        _head(out, n_outputs, smoothing),
        batch_norm,
        1e-5,
        np.float64,
    )
    rng = np.random.RandomState(seed)
    network.initialize(rng)
    # Move gamma and the shifts off their initial values.
    network.params += 0.1 * rng.standard_normal(network.params.shape)
    X = rng.standard_normal((n_rows, n_features))
    if out == "softmax":
        target = rng.randint(n_outputs, size=n_rows)
    elif out == "logistic":
        target = rng.randint(2, size=(n_rows, n_outputs)).astype(float)
    elif out == "poisson":
        target = rng.poisson(2.0, size=(n_rows, n_outputs)).astype(float)
    else:
        target = rng.standard_normal((n_rows, n_outputs))
    sample_weight = rng.uniform(0.5, 2.0, size=n_rows)
    workspace = Workspace(units, n_rows, np.float64, dropout)
    grads = np.empty_like(network.params)
    args = (X, target, sample_weight, alpha)
    _loss(network, *args, grads, workspace)
    if activation == "relu":
        kink_distance = min(
            (np.abs(Z).min() for Z in _pre_activations(network, X, workspace)),
            default=np.inf,
        )
        assume(kink_distance > 1e-4)

    _assert_matches_finite_differences(network, args, grads, workspace)


def _assert_matches_finite_differences(network, args, grads, workspace):
    """``grads`` equal central finite differences of the loss of ``args``
    (relative error < 1e-6)."""
    scratch = np.empty_like(grads)
    numeric = np.empty_like(grads)
    step = 1e-6
    for k in range(network.params.size):
        original = network.params[k]
        network.params[k] = original + step
        upper = _loss(network, *args, scratch, workspace)
        network.params[k] = original - step
        lower = _loss(network, *args, scratch, workspace)
        network.params[k] = original
        numeric[k] = (upper - lower) / (2 * step)

    error = np.linalg.norm(numeric - grads) / np.linalg.norm(numeric + grads)
    assert error < 1e-6


@pytest.mark.parametrize(
    "embedded, n_members", [(True, 1), (False, 3), (True, 3)], ids=str
)
@pytest.mark.parametrize("activation", ["identity", "tanh"])
@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("out", ["softmax", "identity"])
@pytest.mark.parametrize("sparse", [False, True])
@settings(max_examples=5, deadline=None, derandomize=True)
@given(
    n_features=st.integers(1, 4),
    n_frequencies=st.integers(1, 3),
    hidden=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    n_rows=st.integers(2, 6),
    seed=seeds,
)
def test_embedding_and_members_gradient_matches_finite_differences(
    embedded,
    n_members,
    activation,
    batch_norm,
    out,
    sparse,
    n_features,
    n_frequencies,
    hidden,
    n_rows,
    seed,
):
    """Backprop through a periodic embedding of some of the inputs (its
    frequencies and phases), through ensemble members' adapters, and through
    the network behind them, equals central finite differences, for dense
    and sparse inputs."""
    rng = np.random.RandomState(seed)
    embedding = None
    n_inputs = n_features
    if embedded:
        columns = np.flatnonzero(rng.rand(n_features) < 0.7)
        embedding = PeriodicEmbedding(n_features, columns, n_frequencies)
        n_inputs = embedding.n_outputs
    members = None if n_members == 1 else MemberAdapters(n_members, n_inputs)
    units = [n_inputs, *hidden, 2]
    network = Network(
        units,
        activation,
        _head(out, 2, 0.0),
        batch_norm,
        1e-5,
        np.float64,
        embedding=embedding,
        members=members,
    )
    network.initialize(rng)
    network.params += 0.1 * rng.standard_normal(network.params.shape)
    X = rng.standard_normal((n_rows, n_features))
    if sparse:
        X[rng.rand(*X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    if out == "softmax":
        target = rng.randint(2, size=n_rows)
    else:
        target = rng.standard_normal((n_rows, 2))
    sample_weight = rng.uniform(0.5, 2.0, size=n_rows)
    workspace = Workspace(
        units, n_rows, np.float64, embedding=embedding, members=members
    )
    grads = np.empty_like(network.params)
    args = (X, target, sample_weight, 0.1)
    _loss(network, *args, grads, workspace)
    _assert_matches_finite_differences(network, args, grads, workspace)


positive = st.floats(1e-300, 1e300)
below_one = st.floats(1e-300, 1.0, exclude_max=True)


@st.composite
def valid_distributions(draw):
    """Any valid bounds: 0 < low < high (< 1 for OneMinusLogUniform)."""
    cls = draw(st.sampled_from([LogUniform, OneMinusLogUniform, LogUniformInt]))
    if cls is LogUniformInt:
        # Integers stay below 2**53, where float64 represents them exactly.
        values = st.integers(1, 2**40)
    else:
        values = positive if cls is LogUniform else below_one
    low, high = sorted([draw(values), draw(values)])
    assume(low < high)
    return cls(low, high)


@st.composite
def separated_distributions(draw):
    """Valid bounds at least 1 % of a decade apart (in ``1 - x`` for
    OneMinusLogUniform, with ``1 - high >= 1e-8``), so that up to 20 grid
    points are distinct floats."""
    cls = draw(st.sampled_from([LogUniform, OneMinusLogUniform, LogUniformInt]))
    if cls is LogUniformInt:
        low = draw(st.integers(1, 10**6))
        return cls(low, low + draw(st.integers(1, 10**6)))
    exponent = draw(st.floats(-8, 8 if cls is LogUniform else -0.02))
    decades = draw(st.floats(0.01, 8))
    if cls is LogUniform:
        low = 10.0**exponent
        return cls(low, low * 10.0**decades)
    # 1 - high = 10**exponent, 1 - low = 10**(exponent + decades).
    decades = min(decades, -exponent - 0.01)
    return cls(1 - 10.0 ** (exponent + decades), 1 - 10.0**exponent)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(dist=valid_distributions(), size=st.integers(1, 50), seed=seeds)
def test_samples_lie_inside_support(dist, size, seed):
    """Every sample of a distribution with valid bounds is inside support(),
    of the distribution's value type."""
    low, high = dist.support()
    samples = np.asarray(dist.rvs(size=size, random_state=seed))
    assert samples.shape == (size,)
    assert ((samples >= low) & (samples <= high)).all()
    single = dist.rvs(random_state=np.random.default_rng(seed))
    assert low <= single <= high
    if isinstance(dist, LogUniformInt):
        assert samples.dtype.kind == "i"
        assert isinstance(single, int)
    else:
        assert samples.dtype == np.float64
        assert isinstance(single, float)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(dist=valid_distributions(), n=st.integers(2, 30))
def test_grid_is_sorted_inside_support(dist, n):
    """grid(n) of any valid bounds ascends from low to high exactly."""
    low, high = dist.support()
    grid = dist.grid(n)
    assert grid.ndim == 1
    assert grid[0] == low
    assert grid[-1] == high
    assert np.all(np.diff(grid) >= 0)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(dist=separated_distributions(), n=st.integers(2, 20))
def test_grid_is_unique(dist, n):
    """grid(n) has n distinct points (fewer only for LogUniformInt, which
    merges points rounding to the same integer) when the bounds are apart."""
    grid = dist.grid(n)
    assert np.all(np.diff(grid) > 0)
    if isinstance(dist, LogUniformInt):
        assert grid.dtype.kind == "i"
        assert len(grid) <= n
    else:
        assert len(grid) == n
