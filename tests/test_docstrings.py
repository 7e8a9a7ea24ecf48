"""The two estimators document their shared parameters alike.

scikit-learn keeps sibling docstrings in sync the same way
(``sklearn/tests/test_docstring_parameters_consistency.py``); this reads
numpydoc's ``name : type`` entries itself, so numpydoc is not needed.
"""

import inspect
import re

import pytest

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor


def _sections(cls, section):
    """``{name: (type, description)}`` of one numpydoc section of `cls`."""
    doc = inspect.getdoc(cls)
    body = doc.split(f"\n{section}\n{'-' * len(section)}\n", 1)[1]
    # The section ends at the next heading: a line underlined with dashes.
    body = re.split(r"\n\n[^\n]+\n-{3,}\n", body, maxsplit=1)[0]
    entries = {}
    for match in re.finditer(
        r"^(\w+) : ([^\n]*)\n((?:    [^\n]*\n|\n)*)", body + "\n", flags=re.M
    ):
        name, kind, text = match.groups()
        entries[name] = (kind.strip(), " ".join(text.split()))
    return entries


# Shared parameters whose documentation differs on purpose.
DIFFER_ON_PURPOSE = {
    "early_stopping",  # scored by accuracy, or by R² or the validation loss
    "weight_decay",  # 0.3 against 2.0, each default with its reason
}


def test_docstrings_parse():
    """The parser finds every constructor parameter, so the comparison
    below cannot pass by reading nothing."""
    for cls in (BatchNormMLPClassifier, BatchNormMLPRegressor):
        documented = _sections(cls, "Parameters")
        assert set(inspect.signature(cls).parameters) <= set(documented)


@pytest.mark.parametrize(
    "name",
    sorted(
        (
            set(inspect.signature(BatchNormMLPClassifier).parameters)
            & set(inspect.signature(BatchNormMLPRegressor).parameters)
        )
        - DIFFER_ON_PURPOSE
    ),
)
def test_shared_parameters_read_alike(name):
    """A parameter both estimators take has one type and one description."""
    classifier = _sections(BatchNormMLPClassifier, "Parameters")[name]
    regressor = _sections(BatchNormMLPRegressor, "Parameters")[name]
    assert classifier == regressor
