"""Hyper-parameter search for the skbnnet estimators.

- :class:`CoarseToFineSearchCV` (``_coarse_to_fine``): random search, then
  rounds that zoom in on the best candidates, within a time budget if asked
  (the budget's planner is ``_budget``), and the :class:`BudgetWarning` it
  gives when a budget was overrun or its refit shortened;
- :func:`default_search_space`, :func:`tuning_search` and :func:`to_optuna`
  (``_space``): the space and budgeted recipe the benchmarks chose, and its
  conversion for optuna.
"""

from skbnnet.model_selection._coarse_to_fine import (
    BudgetWarning,
    CoarseToFineSearchCV,
)
from skbnnet.model_selection._space import (
    default_search_space,
    to_optuna,
    tuning_search,
)

__all__ = [
    "BudgetWarning",
    "CoarseToFineSearchCV",
    "default_search_space",
    "to_optuna",
    "tuning_search",
]
