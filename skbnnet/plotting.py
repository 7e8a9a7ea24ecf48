"""Visualisations of training and of hyperparameter searches.

matplotlib is an optional dependency (the ``plot`` extra): it is imported
only when something is drawn, so this module imports without it.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .distributions import LogUniform, LogUniformInt, OneMinusLogUniform

__all__ = ["LossCurveDisplay", "SearchResultsDisplay"]


def _import_pyplot(caller_name):
    """Return ``matplotlib.pyplot``, or raise an ImportError naming the extra.

    Parameters
    ----------
    caller_name : str
        Name of the caller that needs matplotlib, for the error message.

    Returns
    -------
    pyplot : module
        ``matplotlib.pyplot``.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            f"{caller_name} requires matplotlib. Install it with: "
            'pip install "skbnnet[plot]"'
        ) from e
    return plt


class LossCurveDisplay:
    """Training loss per epoch, and validation accuracy with early stopping.

    It is recommended to use :meth:`from_estimator` to create a
    :class:`LossCurveDisplay`. All parameters are stored as attributes.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        Training loss of every epoch, as in ``loss_curve_``.

    validation_scores : array-like of shape (n_epochs,), default=None
        Validation accuracy of every epoch, as in ``validation_scores_``;
        None when early stopping was off.

    estimator_name : str, default=None
        Name of the estimator, used as the label of the loss curve. If None,
        the label is "Training loss".

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.

    validation_line_ : matplotlib Line2D or None
        The validation accuracy, on a twin y-axis; None without
        `validation_scores`.

    ax_ : matplotlib Axes
        Axes with the training loss.

    validation_ax_ : matplotlib Axes or None
        Twin axes with the validation accuracy; None without
        `validation_scores`.

    figure_ : matplotlib Figure
        Figure containing the curves.

    See Also
    --------
    LossCurveDisplay.from_estimator : Plot the curves of a fitted estimator.

    Examples
    --------
    >>> from skbnnet.plotting import LossCurveDisplay
    >>> display = LossCurveDisplay([1.2, 0.7, 0.5], validation_scores=[0.8, 0.9, 0.9])
    >>> display.plot()
    <...>
    >>> display.validation_ax_.get_ylabel()
    'Validation accuracy'
    """

    def __init__(self, loss_curve, validation_scores=None, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    def plot(self, ax=None, *, name=None, validation_kw=None, **kwargs):
        """Plot visualization.

        Extra keyword arguments are passed to matplotlib's ``plot`` for the
        training loss.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        name : str, default=None
            Label of the loss curve. If None, `estimator_name` is used.

        validation_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for the
            validation accuracy. By default it is dashed, in the colour of the
            loss curve.

        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot`` for the loss.

        Returns
        -------
        display : :class:`LossCurveDisplay`
            Object that stores computed values.
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        name = self.estimator_name if name is None else name

        epochs = np.arange(1, len(self.loss_curve) + 1)
        label = "Training loss" if name is None else name
        (self.line_,) = ax.plot(epochs, self.loss_curve, **{"label": label, **kwargs})
        ax.set_xlabel("Epoch")
        ax.set_ylabel("Training loss")
        handles, _ = ax.get_legend_handles_labels()

        self.validation_ax_ = self.validation_line_ = None
        if self.validation_scores is not None:
            # Accuracy and loss have different ranges: give accuracy its own axis.
            self.validation_ax_ = ax.twinx()
            label = "Validation accuracy" if name is None else f"{name} (validation)"
            validation_kw = {
                "label": label,
                "color": self.line_.get_color(),
                "linestyle": "--",
                **(validation_kw or {}),
            }
            (self.validation_line_,) = self.validation_ax_.plot(
                epochs, self.validation_scores, **validation_kw
            )
            self.validation_ax_.set_ylabel("Validation accuracy")
            handles.append(self.validation_line_)
        ax.legend(handles=handles)

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, ax=None, name=None, validation_kw=None, **kwargs
    ):
        """Plot the loss curve of a fitted estimator.

        Parameters
        ----------
        estimator : estimator instance
            A fitted :class:`~skbnnet.BatchNormMLPClassifier`, or any estimator
            with ``loss_curve_`` and ``validation_scores_`` such as
            :class:`~sklearn.neural_network.MLPClassifier`, or a
            :class:`~sklearn.pipeline.Pipeline` ending with one.

        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        name : str, default=None
            Label of the loss curve. If None, the estimator's class name.

        validation_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``plot`` for the
            validation accuracy.

        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot`` for the loss.

        Returns
        -------
        display : :class:`LossCurveDisplay`
            Object that stores computed values.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from skbnnet import BatchNormMLPClassifier
        >>> from skbnnet.plotting import LossCurveDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = BatchNormMLPClassifier(max_iter=20, random_state=0).fit(X, y)
        >>> display = LossCurveDisplay.from_estimator(clf)
        >>> len(display.line_.get_xdata())
        20
        >>> print(display.validation_line_)
        None
        """
        if isinstance(estimator, Pipeline):
            estimator = estimator[-1]
        check_is_fitted(estimator)
        if getattr(estimator, "loss_curve_", None) is None:
            raise ValueError(f"{type(estimator).__name__} has no loss_curve_ to plot.")
        display = cls(
            estimator.loss_curve_,
            validation_scores=getattr(estimator, "validation_scores_", None),
            estimator_name=type(estimator).__name__ if name is None else name,
        )
        return display.plot(ax=ax, validation_kw=validation_kw, **kwargs)


def _distribution_scale(dist):
    """Axis scale suggested by a searched distribution, or None."""
    if isinstance(dist, OneMinusLogUniform):
        return "one_minus_log"
    if isinstance(dist, LogUniform | LogUniformInt):
        return "log"
    # scipy.stats.loguniform, frozen.
    if getattr(getattr(dist, "dist", None), "name", None) in {
        "loguniform",
        "reciprocal",
    }:
        return "log"
    return None


def _param_scale(search, name, values):
    """Choose how the values of parameter `name` are shown on the x-axis."""
    spaces = getattr(search, "param_distributions", None)
    if spaces is None:
        spaces = getattr(search, "param_grid", {})
    if isinstance(spaces, Mapping):
        spaces = [spaces]
    scales = {_distribution_scale(space[name]) for space in spaces if name in space}
    if len(scales) == 1 and None not in scales:
        return scales.pop()
    if (
        values.dtype.kind == "f"
        and values.size
        and values.min() > 0
        and values.max() > 100 * values.min()
    ):
        return "log"
    return "linear"


def _axis_values(values):
    """Parameter values as numbers, or as category labels for the x-axis.

    Values are numbers when every one is a real number, and strings otherwise:
    strings, booleans, None, tuples such as ``hidden_layer_sizes`` and
    estimators are drawn as categories, labelled by ``str``.
    """
    values = list(values)
    if all(
        isinstance(value, Real) and not isinstance(value, bool | np.bool_)
        for value in values
    ):
        return np.asarray(values, dtype=np.float64)
    # Labelled one by one: numpy would read a tuple as a row of a 2-D array.
    return np.array([str(value) for value in values], dtype=str)


def _resolve_param(results, param):
    """Return the searched parameter named `param`, without ``param_``.

    `param` may carry the ``param_`` prefix of ``cv_results_``, and may omit
    pipeline prefixes when only one searched parameter ends with it.
    """
    searched = [key[len("param_") :] for key in results if key.startswith("param_")]
    for name in (param, param.removeprefix("param_")):
        if name in searched:
            return name
    matches = [name for name in searched if name.endswith(f"__{param}")]
    if len(matches) == 1:
        return matches[0]
    raise ValueError(
        f"param={param!r} does not name exactly one searched parameter; "
        f"the searched parameters are {searched}."
    )


class SearchResultsDisplay:
    """Mean test score of the candidates of a search against one parameter.

    It is recommended to use :meth:`from_search` to create a
    :class:`SearchResultsDisplay`. All parameters are stored as attributes.

    Parameters
    ----------
    param_values : array-like of shape (n_candidates,)
        Value of the parameter for each candidate.

    mean_test_score : array-like of shape (n_candidates,)
        Mean cross-validated score of each candidate.

    std_test_score : array-like of shape (n_candidates,)
        Standard deviation of the score over the folds.

    param_name : str
        Name of the parameter, the x-axis label.

    rounds : array-like of int of shape (n_candidates,), default=None
        Round of each candidate, as in the ``round`` column of
        :class:`~skbnnet.CoarseToFineSearchCV`'s ``cv_results_``: each round
        gets its own colour and legend entry. If None, one colour and no
        legend.

    param_scale : {"linear", "log", "one_minus_log"}, default="linear"
        How the x-axis shows the values: as they are, on a log scale, or
        ``1 - value`` on a log scale (for momentum-like parameters close to 1,
        sampled by :class:`~skbnnet.OneMinusLogUniform`).

    score_name : str, default="Mean test score"
        The y-axis label.

    Attributes
    ----------
    scatter_ : list of matplotlib PathCollection
        The candidates, one collection per round (a single one without
        `rounds`).

    errorbar_ : list of matplotlib ErrorbarContainer or None
        The standard deviations as error bars, one container per round; None
        unless ``std_display_style="errorbar"``.

    fill_between_ : list of matplotlib PolyCollection or None
        The standard deviations as a band around the scores sorted by
        parameter value, one band per round; None unless
        ``std_display_style="fill_between"``.

    ax_ : matplotlib Axes
        Axes with the scores.

    figure_ : matplotlib Figure
        Figure containing the scores.

    See Also
    --------
    SearchResultsDisplay.from_search : Plot the results of a fitted search.

    Examples
    --------
    >>> from skbnnet.plotting import SearchResultsDisplay
    >>> display = SearchResultsDisplay(
    ...     [1e-3, 1e-2, 1e-1], [0.90, 0.95, 0.80], [0.02, 0.01, 0.05],
    ...     param_name="learning_rate_init", param_scale="log")
    >>> display.plot()
    <...>
    >>> display.ax_.get_xscale()
    'log'
    """

    def __init__(
        self,
        param_values,
        mean_test_score,
        std_test_score,
        *,
        param_name,
        rounds=None,
        param_scale="linear",
        score_name="Mean test score",
    ):
        self.param_values = param_values
        self.mean_test_score = mean_test_score
        self.std_test_score = std_test_score
        self.param_name = param_name
        self.rounds = rounds
        self.param_scale = param_scale
        self.score_name = score_name

    def plot(
        self,
        ax=None,
        *,
        std_display_style="errorbar",
        errorbar_kw=None,
        fill_between_kw=None,
        **kwargs,
    ):
        """Plot visualization.

        Extra keyword arguments are passed to matplotlib's ``scatter``.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        std_display_style : {"errorbar", "fill_between"} or None, \
                default="errorbar"
            How to show the standard deviation of the score over the folds:
            error bars on every candidate, a band around the scores sorted by
            parameter value (readable when the parameter is the only one
            searched), or not at all.

        errorbar_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``errorbar``.

        fill_between_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``fill_between``.

        **kwargs : dict
            Keyword arguments passed to matplotlib's ``scatter``.

        Returns
        -------
        display : :class:`SearchResultsDisplay`
            Object that stores computed values.
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        if std_display_style not in ("errorbar", "fill_between", None):
            raise ValueError(
                "std_display_style must be 'errorbar', 'fill_between' or None, "
                f"got {std_display_style!r}."
            )
        if self.param_scale not in ("linear", "log", "one_minus_log"):
            raise ValueError(
                "param_scale must be 'linear', 'log' or 'one_minus_log', "
                f"got {self.param_scale!r}."
            )
        if ax is None:
            _, ax = plt.subplots()

        x = np.asarray(self.param_values)
        if self.param_scale == "one_minus_log":
            x = 1 - x
        mean = np.asarray(self.mean_test_score, dtype=np.float64)
        std = np.asarray(self.std_test_score, dtype=np.float64)
        rounds = (
            np.zeros(len(x), int) if self.rounds is None else np.asarray(self.rounds)
        )

        self.scatter_ = []
        self.errorbar_ = [] if std_display_style == "errorbar" else None
        self.fill_between_ = [] if std_display_style == "fill_between" else None
        for i, round_idx in enumerate(np.unique(rounds)):
            mask = rounds == round_idx
            color = f"C{i % 10}"
            scatter_kw = {
                "label": None if self.rounds is None else f"Round {round_idx}",
                # Points above their error bars.
                "zorder": 3,
                **kwargs,
            }
            # A user colour, under either of matplotlib's names, wins.
            if "c" not in kwargs:
                scatter_kw.setdefault("color", color)
            self.scatter_.append(ax.scatter(x[mask], mean[mask], **scatter_kw))
            if std_display_style == "errorbar":
                self.errorbar_.append(
                    ax.errorbar(
                        x[mask],
                        mean[mask],
                        yerr=std[mask],
                        **{
                            "fmt": "none",
                            "ecolor": color,
                            "alpha": 0.5,
                            **(errorbar_kw or {}),
                        },
                    )
                )
            elif std_display_style == "fill_between":
                order = np.argsort(x[mask], kind="stable")
                x_sorted, mean_sorted = x[mask][order], mean[mask][order]
                std_sorted = std[mask][order]
                self.fill_between_.append(
                    ax.fill_between(
                        x_sorted,
                        mean_sorted - std_sorted,
                        mean_sorted + std_sorted,
                        **{"color": color, "alpha": 0.2, **(fill_between_kw or {})},
                    )
                )

        if self.param_scale == "linear":
            ax.set_xlabel(self.param_name)
        else:
            ax.set_xscale("log")
            one_minus = self.param_scale == "one_minus_log"
            ax.set_xlabel(f"1 - {self.param_name}" if one_minus else self.param_name)
        ax.set_ylabel(self.score_name)
        if self.rounds is not None:
            ax.legend()

        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_search(
        cls,
        search,
        param,
        *,
        ax=None,
        std_display_style="errorbar",
        errorbar_kw=None,
        fill_between_kw=None,
        **kwargs,
    ):
        """Plot the mean test score of a fitted search against one parameter.

        The x-axis is logarithmic when the parameter was searched with
        :class:`~skbnnet.LogUniform`, :class:`~skbnnet.LogUniformInt` or
        :func:`scipy.stats.loguniform`, or when its values span more than two
        decades; with :class:`~skbnnet.OneMinusLogUniform` it shows
        ``1 - value`` on a log scale. Candidates of a
        :class:`~skbnnet.CoarseToFineSearchCV` are coloured by round.

        Parameters
        ----------
        search : fitted search instance
            A fitted :class:`~skbnnet.CoarseToFineSearchCV`,
            :class:`~sklearn.model_selection.RandomizedSearchCV`,
            :class:`~sklearn.model_selection.GridSearchCV` or other
            :class:`~sklearn.model_selection._search.BaseSearchCV`. For a
            multi-metric search, the metric named by ``refit`` is plotted.

        param : str
            The parameter, as named in `param_distributions` or `param_grid`
            (``"clf__alpha"``) or in ``cv_results_`` (``"param_clf__alpha"``).
            Pipeline prefixes may be left out when one searched parameter
            ends with ``"__" + param``. Candidates from a dict of a list of
            spaces without it are left out.

        ax : matplotlib Axes, default=None
            Axes to plot on. If None, a new figure and axes are created.

        std_display_style : {"errorbar", "fill_between"} or None, \
                default="errorbar"
            How to show the standard deviation of the score over the folds,
            see :meth:`plot`.

        errorbar_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``errorbar``.

        fill_between_kw : dict, default=None
            Keyword arguments passed to matplotlib's ``fill_between``.

        **kwargs : dict
            Keyword arguments passed to matplotlib's ``scatter``.

        Returns
        -------
        display : :class:`SearchResultsDisplay`
            Object that stores computed values.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn.model_selection import RandomizedSearchCV
        >>> from skbnnet import BatchNormMLPClassifier, LogUniform
        >>> from skbnnet.plotting import SearchResultsDisplay
        >>> X, y = load_iris(return_X_y=True)
        >>> search = RandomizedSearchCV(
        ...     BatchNormMLPClassifier(hidden_layer_sizes=(8,), max_iter=10),
        ...     {"learning_rate_init": LogUniform(1e-4, 1)},
        ...     n_iter=4, cv=3, random_state=0).fit(X, y)
        >>> display = SearchResultsDisplay.from_search(search, "learning_rate_init")
        >>> display.ax_.get_xscale()
        'log'
        >>> len(display.scatter_[0].get_offsets())
        4
        """
        check_is_fitted(search, "cv_results_")
        results = search.cv_results_
        name = _resolve_param(results, param)

        metric = "score"
        if getattr(search, "multimetric_", False) and isinstance(search.refit, str):
            metric = search.refit
        if f"mean_test_{metric}" not in results:
            raise ValueError(
                "For a multi-metric search, refit must name the metric to plot."
            )

        column = results[f"param_{name}"]
        present = ~np.ma.getmaskarray(column)
        values = _axis_values(np.ma.getdata(column)[present])
        rounds = results.get("round")
        display = cls(
            values,
            results[f"mean_test_{metric}"][present],
            results[f"std_test_{metric}"][present],
            param_name=name,
            rounds=None if rounds is None else np.asarray(rounds)[present],
            param_scale=_param_scale(search, name, values),
            score_name=f"Mean test {metric}",
        )
        return display.plot(
            ax=ax,
            std_display_style=std_display_style,
            errorbar_kw=errorbar_kw,
            fill_between_kw=fill_between_kw,
            **kwargs,
        )
