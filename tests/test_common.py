"""scikit-learn's estimator checks, over the configurations users tune."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from skbnnet import BatchNormMLPClassifier

ESTIMATORS = [
    BatchNormMLPClassifier(),
    BatchNormMLPClassifier(solver="sgd", nesterovs_momentum=True),
    BatchNormMLPClassifier(solver="rmsprop"),
    BatchNormMLPClassifier(dropout=0.2),
    BatchNormMLPClassifier(batch_norm=False),
    BatchNormMLPClassifier(batch_norm_stats="population"),
]

DROPOUT_REASON = (
    "with dropout, repeated rows draw independent masks while a weighted row "
    "draws one, so weights cannot equal repetitions"
)


def expected_failed_checks(estimator):
    if estimator.dropout > 0:
        return {
            "check_sample_weight_equivalence_on_dense_data": DROPOUT_REASON,
            "check_sample_weight_equivalence_on_sparse_data": DROPOUT_REASON,
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_dataframe_column_names_consistency(estimator):
    """Feature names are recorded and checked (not run by check_estimator)."""
    check_dataframe_column_names_consistency(type(estimator).__name__, estimator)


def test_param_validation():
    """Every invalid hyperparameter raises InvalidParameterError."""
    check_param_validation("BatchNormMLPClassifier", BatchNormMLPClassifier())
