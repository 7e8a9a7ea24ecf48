import importlib
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import loguniform, uniform
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbnnet
from skbnnet import (
    BatchNormMLPClassifier,
    LogUniform,
    LogUniformInt,
    OneMinusLogUniform,
)
from skbnnet.model_selection import CoarseToFineSearchCV

# The plot extra; without it the module is skipped, not an error.
matplotlib = pytest.importorskip("matplotlib")
# Render for real, without a display.
matplotlib.use("Agg")

from skbnnet.plotting import LossCurveDisplay, SearchResultsDisplay  # noqa: E402

LR = "batchnormmlpclassifier__learning_rate_init"


@pytest.fixture(autouse=True)
def pyplot():
    """Give pyplot to a test, and close its figures afterwards."""
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def _clf(**params):
    return BatchNormMLPClassifier(
        hidden_layer_sizes=(4,), max_iter=3, random_state=0, **params
    )


def _random_search(X, y, param_distributions, n_iter=4, **params):
    return RandomizedSearchCV(
        make_pipeline(StandardScaler(), _clf()),
        param_distributions,
        n_iter=n_iter,
        cv=2,
        random_state=0,
        **params,
    ).fit(X, y)


def test_loss_curve_without_early_stopping(iris):
    """One loss line over epochs 1..n_iter_, and no twin axis."""
    clf = _clf().fit(*iris)
    display = LossCurveDisplay.from_estimator(clf)

    assert_array_equal(display.line_.get_xdata(), np.arange(1, clf.n_iter_ + 1))
    assert_allclose(display.line_.get_ydata(), clf.loss_curve_)
    assert display.validation_line_ is None
    assert display.validation_ax_ is None
    assert display.figure_.axes == [display.ax_]
    assert len(display.ax_.get_lines()) == 1
    assert display.ax_.get_xlabel() == "Epoch"
    assert display.ax_.get_ylabel() == "Training loss"
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["BatchNormMLPClassifier"]


@pytest.mark.parametrize(
    "estimator",
    [
        _clf(early_stopping=True),
        MLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0),
    ],
    ids=["BatchNormMLPClassifier", "MLPClassifier"],
)
def test_loss_curve_with_early_stopping(iris, estimator):
    """Validation accuracy goes on a twin y-axis, in the legend too."""
    estimator.fit(*iris)
    display = LossCurveDisplay.from_estimator(estimator, name="net")

    assert len(display.figure_.axes) == 2
    assert display.validation_ax_ in display.figure_.axes
    assert_allclose(display.validation_line_.get_ydata(), estimator.validation_scores_)
    assert display.validation_ax_.get_ylabel() == "Validation accuracy"
    assert display.validation_line_.get_color() == display.line_.get_color()
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["net", "net (validation)"]


def test_loss_curve_pipeline_ax_and_kwargs(iris, pyplot):
    """A pipeline's final step is plotted on the given axes with the given style."""
    pipe = make_pipeline(StandardScaler(), _clf()).fit(*iris)
    _, ax = pyplot.subplots()
    display = LossCurveDisplay.from_estimator(pipe, ax=ax, color="red", lw=3)

    assert display.ax_ is ax
    assert_allclose(display.line_.get_ydata(), pipe[-1].loss_curve_)
    assert display.line_.get_color() == "red"
    assert display.line_.get_linewidth() == 3


def test_loss_curve_display_plot_without_names():
    """Without a name, the legend says what each curve is."""
    display = LossCurveDisplay([1.0, 0.5], validation_scores=[0.7, 0.8]).plot()
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["Training loss", "Validation accuracy"]


def test_loss_curve_from_estimator_errors(iris):
    """Unfitted estimators and estimators without a loss curve are refused."""
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(_clf())
    lbfgs = MLPClassifier((4,), solver="lbfgs", max_iter=3).fit(*iris)
    with pytest.raises(ValueError, match="has no loss_curve_"):
        LossCurveDisplay.from_estimator(lbfgs)


@pytest.mark.parametrize("param", [LR, f"param_{LR}", "learning_rate_init"])
def test_search_results_log_distribution(iris, param):
    """A LogUniform parameter is shown on a log axis, whatever its spelling."""
    search = _random_search(*iris, {LR: LogUniform(1e-3, 1e-2)})
    display = SearchResultsDisplay.from_search(search, param)
    results = search.cv_results_

    # The values span one decade: the distribution alone asks for a log axis.
    assert display.ax_.get_xscale() == "log"
    assert display.ax_.get_xlabel() == LR
    assert display.ax_.get_ylabel() == "Mean test score"
    (scatter,) = display.scatter_
    assert_allclose(
        scatter.get_offsets(),
        np.c_[results[f"param_{LR}"].astype(float), results["mean_test_score"]],
    )
    assert display.ax_.get_legend() is None
    assert display.fill_between_ is None


def test_search_results_error_bars(iris):
    """Each candidate gets an error bar of +- one standard deviation."""
    search = _random_search(*iris, {LR: LogUniform(1e-3, 1)})
    display = SearchResultsDisplay.from_search(search, LR)

    (errorbar,) = display.errorbar_
    (bars,) = errorbar.lines[2]
    heights = [segment[1, 1] - segment[0, 1] for segment in bars.get_segments()]
    assert_allclose(heights, 2 * search.cv_results_["std_test_score"])


def test_search_results_std_band(iris):
    """The band spans mean +- std of the candidates sorted by parameter value."""
    search = _random_search(*iris, {LR: LogUniform(1e-3, 1)}, n_iter=5)
    display = SearchResultsDisplay.from_search(
        search, LR, std_display_style="fill_between"
    )
    results = search.cv_results_

    assert display.errorbar_ is None
    (band,) = display.fill_between_
    vertices = band.get_paths()[0].vertices
    mean, std = results["mean_test_score"], results["std_test_score"]
    assert_allclose(vertices[:, 1].min(), (mean - std).min())
    assert_allclose(vertices[:, 1].max(), (mean + std).max())
    assert_allclose(vertices[:, 0].min(), results[f"param_{LR}"].min())


def test_search_results_without_std(iris):
    """std_display_style=None draws the points only."""
    search = _random_search(*iris, {LR: LogUniform(1e-3, 1)})
    display = SearchResultsDisplay.from_search(search, LR, std_display_style=None)

    assert display.errorbar_ is None and display.fill_between_ is None
    assert not display.ax_.containers and not display.ax_.get_lines()


def test_search_results_one_minus_log_uniform(iris):
    """A OneMinusLogUniform parameter is shown as 1 - value on a log axis."""
    search = _random_search(
        *iris,
        {"batchnormmlpclassifier__batch_norm_momentum": OneMinusLogUniform(0.9, 0.999)},
    )
    display = SearchResultsDisplay.from_search(search, "batch_norm_momentum")

    assert display.ax_.get_xscale() == "log"
    assert display.ax_.get_xlabel() == "1 - batchnormmlpclassifier__batch_norm_momentum"
    values = search.cv_results_["param_batchnormmlpclassifier__batch_norm_momentum"]
    assert_allclose(display.scatter_[0].get_offsets()[:, 0], 1 - values.astype(float))


@pytest.mark.parametrize(
    "dist, scale",
    [
        (LogUniformInt(2, 8), "log"),
        (loguniform(1e-3, 1e-2), "log"),
        (uniform(1e-3, 1e-2), "linear"),
        # Not a log-scale distribution, but values spanning three decades.
        ([1e-4, 1e-3, 1e-2, 1e-1], "log"),
        ([1e-3, 2e-3, 5e-3, 1e-2], "linear"),
    ],
    ids=["LogUniformInt", "loguniform", "uniform", "list-3-decades", "list-1-decade"],
)
def test_search_results_scale(iris, dist, scale):
    """Log axis for log-scale distributions and values spanning > 2 decades."""
    name = (
        "batchnormmlpclassifier__batch_size" if isinstance(dist, LogUniformInt) else LR
    )
    search = _random_search(*iris, {name: dist})
    display = SearchResultsDisplay.from_search(search, name)
    assert display.ax_.get_xscale() == scale


def test_search_results_grid_search_list_of_dicts(iris):
    """Candidates without the parameter are left out; its dict sets the scale."""
    search = GridSearchCV(
        make_pipeline(StandardScaler(), _clf()),
        [
            {LR: LogUniform(1e-3, 1e-2).grid(3)},
            {"batchnormmlpclassifier__alpha": [1e-4, 1e-2]},
        ],
        cv=2,
    ).fit(*iris)
    display = SearchResultsDisplay.from_search(search, LR)

    assert len(display.scatter_[0].get_offsets()) == 3
    # A grid is a list of values: the log axis comes from their span, 1 decade.
    assert display.ax_.get_xscale() == "linear"


def test_search_results_categorical_parameter(iris):
    """String values become categories on the x-axis."""
    search = GridSearchCV(
        _clf(), {"activation": ["relu", "tanh"], "alpha": [1e-4, 1e-2]}, cv=2
    ).fit(*iris)
    display = SearchResultsDisplay.from_search(search, "activation")

    assert len(display.scatter_[0].get_offsets()) == 4
    ticks = [tick.get_text() for tick in display.ax_.get_xticklabels()]
    assert ticks == ["relu", "tanh"]


@pytest.mark.parametrize(
    "param, values, labels",
    [
        (
            "hidden_layer_sizes",
            [(4,), (8,), (4, 4)],
            ["(4,)", "(8,)", "(4, 4)"],
        ),
        # Tuples of one length would make a 2-D array of numbers.
        ("hidden_layer_sizes", [(4, 4), (8, 8)], ["(4, 4)", "(8, 8)"]),
        # One non-number makes every value a category.
        ("hidden_layer_sizes", [4, (8, 4)], ["4", "(8, 4)"]),
        ("batch_size", ["auto", 16], ["auto", "16"]),
        ("batch_norm", [True, False], ["True", "False"]),
    ],
)
def test_search_results_non_numeric_values_are_categories(iris, param, values, labels):
    """Tuples, booleans and mixed values are drawn as categories, one per
    value, each candidate at its own score."""
    search = GridSearchCV(_clf(), {param: values}, cv=2).fit(*iris)
    display = SearchResultsDisplay.from_search(search, param)

    assert display.ax_.get_xscale() == "linear"
    ticks = [tick.get_text() for tick in display.ax_.get_xticklabels()]
    assert ticks == labels
    offsets = display.scatter_[0].get_offsets()
    assert_array_equal(offsets[:, 0], np.arange(len(values)))
    assert_allclose(offsets[:, 1], search.cv_results_["mean_test_score"])


def test_search_results_coarse_to_fine_rounds(iris):
    """Each round of a coarse-to-fine search has its colour and legend entry."""
    search = CoarseToFineSearchCV(
        _clf(),
        {"learning_rate_init": LogUniform(1e-4, 1)},
        n_iter=3,
        n_rounds=3,
        cv=2,
        random_state=0,
    ).fit(*iris)
    display = SearchResultsDisplay.from_search(search, "learning_rate_init")

    assert [len(scatter.get_offsets()) for scatter in display.scatter_] == [3, 3, 3]
    legend = [text.get_text() for text in display.ax_.get_legend().get_texts()]
    assert legend == ["Round 0", "Round 1", "Round 2"]
    colors = {tuple(scatter.get_facecolor()[0]) for scatter in display.scatter_}
    assert len(colors) == 3
    assert len(display.errorbar_) == 3
    assert display.ax_.get_xscale() == "log"


def test_search_results_multimetric(iris):
    """A multi-metric search plots the metric it refits on."""
    search = _random_search(
        *iris,
        {LR: LogUniform(1e-3, 1)},
        scoring=["accuracy", "balanced_accuracy"],
        refit="balanced_accuracy",
    )
    display = SearchResultsDisplay.from_search(search, LR)
    assert display.ax_.get_ylabel() == "Mean test balanced_accuracy"
    assert_allclose(
        display.scatter_[0].get_offsets()[:, 1],
        search.cv_results_["mean_test_balanced_accuracy"],
    )


def test_search_results_errors(iris):
    """Unknown parameters, bad styles and unfitted searches are refused."""
    search = _random_search(
        *iris,
        {LR: LogUniform(1e-3, 1), "batchnormmlpclassifier__alpha": [1e-4, 1e-3]},
    )
    with pytest.raises(ValueError, match="the searched parameters are"):
        SearchResultsDisplay.from_search(search, "momentum")
    with pytest.raises(ValueError, match="std_display_style must be"):
        SearchResultsDisplay.from_search(search, LR, std_display_style="band")
    with pytest.raises(NotFittedError):
        SearchResultsDisplay.from_search(
            RandomizedSearchCV(_clf(), {"alpha": [1e-4]}), "alpha"
        )


def test_import_without_matplotlib(monkeypatch):
    """The module imports without matplotlib; plotting names the extra."""
    # The re-import rebinds the package attribute: have it restored too.
    monkeypatch.setattr(skbnnet, "plotting", skbnnet.plotting)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.delitem(sys.modules, "skbnnet.plotting")
    plotting = importlib.import_module("skbnnet.plotting")

    with pytest.raises(ImportError, match=r'pip install "skbnnet\[plot\]"'):
        plotting.LossCurveDisplay([1.0, 0.5]).plot()
    with pytest.raises(ImportError, match="SearchResultsDisplay.plot requires"):
        plotting.SearchResultsDisplay([1], [0.5], [0.1], param_name="alpha").plot()
