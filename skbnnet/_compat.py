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

try:  # scikit-learn >= 1.9; experimental there
    from sklearn.callback import CallbackSupportMixin, ProgressBar
except ImportError:  # pragma: no cover - scikit-learn 1.6 to 1.8
    CallbackSupportMixin = ProgressBar = None

# What scikit-learn's callback machinery sets on an estimator for the length
# of one fit (the root task's context and the callbacks to tear down after
# it). A fit that fails and puts the estimator's attributes back must keep
# these, or the callbacks would never be torn down.
CALLBACK_FIT_ATTRIBUTES = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")


def has_callbacks(estimator):
    """Whether callbacks are set on the estimator (directly or propagated)."""
    return bool(getattr(estimator, "_skl_callbacks", None))


__all__ = [
    "CALLBACK_FIT_ATTRIBUTES",
    "BaseSearchCV",
    "CallbackSupportMixin",
    "Interval",
    "InvalidParameterError",
    "Options",
    "ProgressBar",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "_sk_search",
    "has_callbacks",
    "validate_data",
]
