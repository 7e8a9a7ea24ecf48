"""scikit-learn's estimator checks, over the configurations users tune.

Every classifier configuration also runs ``check_class_weight_classifiers``
(the estimator has a ``class_weight`` parameter). ``class_weight="balanced"``
is not listed: like ``SGDClassifier``'s, it refuses ``partial_fit``, which
several checks call; tests/test_classifier.py covers it.
"""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor

ESTIMATORS = [
    BatchNormMLPClassifier(),
    BatchNormMLPClassifier(solver="sgd", nesterovs_momentum=True),
    BatchNormMLPClassifier(solver="rmsprop"),
    BatchNormMLPClassifier(dropout=0.2),
    BatchNormMLPClassifier(batch_norm=False),
    BatchNormMLPClassifier(batch_norm_stats="population"),
    # The recipe options a tuned model uses.
    BatchNormMLPClassifier(
        learning_rate="cosine", weight_decay=0.01, label_smoothing=0.1
    ),
    BatchNormMLPClassifier(numeric_embedding="periodic"),
    BatchNormMLPClassifier(n_members=4),
    BatchNormMLPRegressor(),
    BatchNormMLPRegressor(solver="sgd", nesterovs_momentum=True),
    BatchNormMLPRegressor(dropout=0.2),
    BatchNormMLPRegressor(batch_norm=False),
    BatchNormMLPRegressor(batch_norm_stats="population"),
    BatchNormMLPRegressor(learning_rate="cosine", weight_decay=0.01),
    BatchNormMLPRegressor(loss="absolute_error"),
    BatchNormMLPRegressor(loss="huber"),
    BatchNormMLPRegressor(loss="quantile", quantile=0.5),
    BatchNormMLPRegressor(loss="quantile", quantile=0.8),
    BatchNormMLPRegressor(loss="poisson"),
    BatchNormMLPRegressor(numeric_embedding="periodic", n_frequencies=4),
    BatchNormMLPRegressor(n_members=3, numeric_embedding="periodic", n_frequencies=2),
]

DROPOUT_REASON = (
    "with dropout, repeated rows draw independent masks while a weighted row "
    "draws one, so weights cannot equal repetitions"
)


POISSON_REASON = (
    "the check fits make_regression's negative targets without reading the "
    "positive_only tag, and loss='poisson' rightly refuses them"
)


def expected_failed_checks(estimator):
    if estimator.dropout > 0:
        return {
            "check_sample_weight_equivalence_on_dense_data": DROPOUT_REASON,
            "check_sample_weight_equivalence_on_sparse_data": DROPOUT_REASON,
        }
    if getattr(estimator, "loss", None) == "poisson":
        return {"check_regressor_multioutput": POISSON_REASON}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dataframe_column_names_consistency(estimator):
    """Feature names are recorded and checked (not run by check_estimator)."""
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator", [BatchNormMLPClassifier(), BatchNormMLPRegressor()]
)
def test_param_validation(estimator):
    """Every invalid hyperparameter raises InvalidParameterError."""
    check_param_validation(type(estimator).__name__, estimator)
