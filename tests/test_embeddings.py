"""Numeric-feature embeddings (numeric_embedding="periodic") in both estimators.

The gradient through the embedding is checked against finite differences in
tests/test_properties.py, scikit-learn's checks run on an embedded
configuration of each estimator in tests/test_common.py and the ONNX export
in tests/test_onnx.py.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor
from skbnnet._embeddings import embedded_columns
from skbnnet._fused import periodic_forward


def _periodic_data(n_samples, seed):
    """Classes alternating six times along one input: sign(sin(3 x))."""
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n_samples, 1))
    return X, (np.sin(3 * X[:, 0]) > 0).astype(int)


def test_periodic_embedding_learns_a_periodic_boundary():
    """Eight ReLU units have too few kinks for six alternations of the class
    along x; with learned cosines of x in front of them they separate the
    classes. The frequencies move from their initial values."""
    X, y = _periodic_data(1200, 0)
    X_test, y_test = _periodic_data(1000, 1)
    params = dict(hidden_layer_sizes=(8,), input_scaling=None, max_iter=100)
    plain = BatchNormMLPClassifier(
        numeric_embedding=None, random_state=0, **params
    ).fit(X, y)
    embedded = BatchNormMLPClassifier(
        numeric_embedding="periodic", random_state=0, **params
    ).fit(X, y)
    assert plain.score(X_test, y_test) < 0.8
    assert embedded.score(X_test, y_test) > 0.97
    start = BatchNormMLPClassifier(
        numeric_embedding="periodic", random_state=0, **{**params, "max_iter": 1}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        start.fit(X, y)
    moved = embedded._network.views.embedding - start._network.views.embedding
    assert np.abs(moved).max() > 0.1


@pytest.mark.parametrize("Estimator", [BatchNormMLPClassifier, BatchNormMLPRegressor])
def test_only_inputs_with_more_than_two_values_are_embedded(Estimator):
    """Binary and constant inputs reach the first layer once; each other
    input also as n_frequencies cosines, after all inputs."""
    rng = np.random.RandomState(0)
    X = np.c_[
        rng.standard_normal(60), rng.randint(2, size=60), np.ones(60), rng.rand(60)
    ]
    y = (X[:, 0] > 0).astype(int)
    model = Estimator(
        hidden_layer_sizes=(5,), numeric_embedding="periodic", n_frequencies=3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        model.set_params(max_iter=5, random_state=0).fit(X, y)
    assert_array_equal(model._network.embedding.columns, [0, 3])
    assert model.coefs_[0].shape == (4 + 2 * 3, 5)
    assert model.n_features_in_ == 4


def test_embedded_columns_dense_sparse_and_weights():
    """The same columns from dense, CSR and CSC input and any chunk size;
    a third value seen only in rows of zero weight does not count."""
    X = np.array([[0, 1, 5, 2], [1, 1, 5, 3], [0, 0, 6, 2], [0, 2, 5, 4.0]])
    weights = np.ones(4)
    for data in (X, sp.csr_matrix(X), sp.csc_matrix(X)):
        assert_array_equal(embedded_columns(data, weights), [1, 3])
        assert_array_equal(embedded_columns(data, weights, chunk_size=1), [1, 3])
    # Without row 3, column 1 has one value and column 3 two.
    weights[3] = 0.0
    assert embedded_columns(X, weights).size == 0
    assert embedded_columns(sp.csr_matrix(X), weights).size == 0


def test_zero_weight_is_leaving_the_row_out():
    """A row of zero weight whose value would have made its column embedded
    gives the model of the data without that row."""
    X, y = make_regression(80, 3, random_state=0)
    X[:, 1] = np.arange(80) % 2
    X_extra, y_extra = np.r_[X, [[0.0, 7.0, 0.0]]], np.r_[y, 0.0]
    weights = np.r_[np.ones(80), 0.0]
    params = dict(
        hidden_layer_sizes=(6,),
        numeric_embedding="periodic",
        n_frequencies=2,
        max_iter=10,
        shuffle=False,
        batch_size=81,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        left_out = BatchNormMLPRegressor(**params).fit(X, y)
        weighted = BatchNormMLPRegressor(**params).fit(
            X_extra, y_extra, sample_weight=weights
        )
    assert_array_equal(weighted._network.embedding.columns, [0, 2])
    assert_allclose(weighted.predict(X), left_out.predict(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "widening",
    [{"numeric_embedding": "periodic"}, {"numeric_embedding": None, "n_members": 3}],
    ids=["embedding", "members"],
)
def test_sparse_input_gives_the_dense_model(widening):
    """Sparse rows are made dense a batch at a time, for the embedding or
    for the ensemble members' copies (tests/test_ensemble.py): the same fit
    as dense."""
    X, y = make_regression(100, 4, random_state=0)
    X[np.random.RandomState(0).rand(*X.shape) < 0.5] = 0.0
    params = dict(
        hidden_layer_sizes=(8,),
        input_scaling=None,
        max_iter=20,
        random_state=0,
        **widening,
    )
    dense = BatchNormMLPRegressor(**params).fit(X, y)
    sparse = BatchNormMLPRegressor(**params).fit(sp.csr_matrix(X), y)
    assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), rtol=1e-7)


def test_warm_start_keeps_the_embedding_and_refuses_changes():
    """partial_fit trains the fitted embedding on; switching it off or
    changing n_frequencies between calls raises."""
    X, y = _periodic_data(200, 0)
    model = BatchNormMLPClassifier(
        hidden_layer_sizes=(4,), numeric_embedding="periodic", random_state=0
    )
    model.partial_fit(X, y, classes=[0, 1])
    before = model._network.views.embedding.copy()
    model.partial_fit(X, y)
    assert not np.array_equal(model._network.views.embedding, before)
    for change in ({"n_frequencies": 8}, {"numeric_embedding": None}):
        with pytest.raises(ValueError, match="numeric_embedding, n_frequencies"):
            model.set_params(**change).partial_fit(X, y)
        model.set_params(numeric_embedding="periodic", n_frequencies=16)


def test_kernel_refuses_columns_outside_the_inputs():
    """The kernel indexes raw memory: a column outside the inputs is an
    error, not a read past the row."""
    E = np.zeros((2, 3 + 2))
    with pytest.raises(ValueError, match=r"column 3 is not in \[0, 3\)"):
        periodic_forward(E, 3, np.array([3], dtype=np.intp), np.ones(2), np.ones(2))


def test_inference_in_chunks_equals_one_pass(monkeypatch):
    """Predictions are computed a chunk of rows at a time under an embedding
    (its rows are n_frequencies + 1 times wider than the inputs): the same
    values as in one pass."""
    X, y = make_regression(50, 3, random_state=0)
    model = BatchNormMLPRegressor(
        hidden_layer_sizes=(6,), numeric_embedding="periodic", max_iter=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        model.fit(X, y)
    whole = model.predict(X)
    # 3 + 3 * 16 = 51 values per row: chunks of 2 rows.
    monkeypatch.setattr("skbnnet._network.EMBEDDED_CHUNK", 102)
    assert_allclose(model.predict(X), whole, rtol=1e-12)


@pytest.mark.parametrize("Estimator", [BatchNormMLPClassifier, BatchNormMLPRegressor])
def test_auto_embeds_from_500_rows_and_up_to_100_inputs(Estimator):
    """The default "auto" embeds a first fit of 500 rows (of positive
    weight), not one of 499, nor one with more than 100 inputs to embed or
    none at all."""
    rng = np.random.RandomState(0)

    def embedded(n_samples, n_features, binary=False, zero_weights=0):
        X = rng.rand(n_samples, n_features)
        if binary:
            X = np.round(X)
        weights = np.ones(n_samples)
        weights[:zero_weights] = 0.0
        model = Estimator(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning
            model.fit(X, (X[:, 0] > 0.5).astype(int), sample_weight=weights)
        return model._network.embedding is not None

    assert Estimator().numeric_embedding == "auto"
    assert embedded(500, 3) and not embedded(499, 3)
    # A row of zero weight is a row left out.
    assert not embedded(500, 3, zero_weights=1)
    assert embedded(500, 100) and not embedded(500, 101)
    assert not embedded(600, 3, binary=True)
