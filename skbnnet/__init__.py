"""skbnnet: a batch-normalised MLP classifier for scikit-learn, and the tools
to tune it (log-scale distributions, coarse-to-fine search)."""

from ._version import __version__
from .classifier import BatchNormMLPClassifier
from .distributions import LogUniform, LogUniformInt, OneMinusLogUniform
from .model_selection import CoarseToFineSearchCV

__all__ = [
    "BatchNormMLPClassifier",
    "CoarseToFineSearchCV",
    "LogUniform",
    "LogUniformInt",
    "OneMinusLogUniform",
    "__version__",
]
