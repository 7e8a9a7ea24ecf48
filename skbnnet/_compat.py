"""The one module that imports scikit-learn's private helpers.

A scikit-learn release that moves them can then break only this file. Other
modules import these names from here, never from a private scikit-learn
module or a name with a leading underscore (``tests/test_packaging.py``
checks).
"""

from sklearn.base import _fit_context
from sklearn.model_selection import _search as _sk_search
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "BaseSearchCV",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_sk_search",
    "validate_data",
]
