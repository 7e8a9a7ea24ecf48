"""The one module that imports scikit-learn's private helpers.

A scikit-learn release that moves them can then break only this file.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
)
from sklearn.utils.validation import validate_data

__all__ = [
    "Interval",
    "Options",
    "StrOptions",
    "_fit_context",
    "validate_data",
]
