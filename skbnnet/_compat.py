"""The one module that imports scikit-learn's private helpers.

A scikit-learn release that moves them can then break only this file. Other
modules import these names from here, never from a private scikit-learn
module or a name with a leading underscore (``tests/test_packaging.py``
checks, for imports and for attributes of private modules alike).
"""

import threading
from contextlib import contextmanager

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


# BaseSearchCV.fit's check that raises "All the N fits failed" when every fit
# of one evaluate_candidates call failed; looked up in its module at each call.
_FIT_FAILURE_CHECK = "_warn_or_raise_about_fit_failures"
_swap_lock = threading.Lock()
_swap = {"users": 0, "original": None}


def _call_replacement(replacement):
    def check(results, error_score):
        return replacement(_swap["original"], results, error_score)

    return check


@contextmanager
def replaced_fit_failure_check(replacement):
    """Have ``BaseSearchCV.fit`` call `replacement` for its fit-failure check.

    Within the block, ``replacement(sklearn_check, results, error_score)``
    runs where scikit-learn calls its private check of failed fits, which
    it hands as ``sklearn_check``. Nothing is patched at import: the check
    is swapped while at least one block is open (counted, for searches that
    fit in threads at once) and put back when the last one closes. Should
    scikit-learn rename the check, nothing is swapped and its own behaviour
    stays.
    """
    with _swap_lock:
        swapped = callable(getattr(_sk_search, _FIT_FAILURE_CHECK, None))
        if swapped:
            if _swap["users"] == 0:
                _swap["original"] = getattr(_sk_search, _FIT_FAILURE_CHECK)
                setattr(_sk_search, _FIT_FAILURE_CHECK, _call_replacement(replacement))
            _swap["users"] += 1
    try:
        yield
    finally:
        if swapped:
            with _swap_lock:
                _swap["users"] -= 1
                if _swap["users"] == 0:
                    setattr(_sk_search, _FIT_FAILURE_CHECK, _swap["original"])
                    _swap["original"] = None


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
    "has_callbacks",
    "replaced_fit_failure_check",
    "validate_data",
]
