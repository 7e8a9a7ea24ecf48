"""Hyper-parameter search for the skbnnet estimators.

- :class:`CoarseToFineSearchCV` (``_coarse_to_fine``): random search, then
  rounds that zoom in on the best candidates, within a time budget if asked
  (the budget's planner is ``_budget``);
- :func:`default_search_space`, :func:`tuning_search` and :func:`to_optuna`
  (``_space``): the space and budgeted recipe the benchmarks chose, and its
  conversion for optuna.
"""

from skbnnet.model_selection._coarse_to_fine import CoarseToFineSearchCV
from skbnnet.model_selection._space import (
    default_search_space,
    to_optuna,
    tuning_search,
)

__all__ = [
    "CoarseToFineSearchCV",
    "default_search_space",
    "to_optuna",
    "tuning_search",
]
