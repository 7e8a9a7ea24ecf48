"""skbnnet: batch-normalised MLP estimators for scikit-learn, and the tools
to tune them (log-scale distributions, coarse-to-fine search)."""

from ._version import __version__

try:
    from . import _fused  # noqa: F401
except ImportError as exc:  # a source checkout whose extension was not built
    raise ImportError(
        "skbnnet's compiled kernels (skbnnet._fused) are not built. Install "
        "skbnnet with `pip install .` (or `pip install -e .` in a source "
        "checkout, again after editing skbnnet/_fused.pyx or "
        "skbnnet/_kernels.h); building needs a C compiler and the Python "
        "headers."
    ) from exc

from .classifier import BatchNormMLPClassifier
from .distributions import LogUniform, LogUniformInt, OneMinusLogUniform
from .model_selection import CoarseToFineSearchCV
from .regressor import BatchNormMLPRegressor

__all__ = [
    "BatchNormMLPClassifier",
    "BatchNormMLPRegressor",
    "CoarseToFineSearchCV",
    "LogUniform",
    "LogUniformInt",
    "OneMinusLogUniform",
    "__version__",
]
