"""When training stops: the rules of the loop, as objects of their own.

The loop (:class:`~skbnnet._training.Trainer`) asks these, and holds no
policy itself. Each is a pure function of the numbers it is given, so it is
tested without training a network, as HistGradientBoosting's
``_should_stop(scores)`` and skorch's stopping callbacks are:

- :class:`LossBounds`: the losses a fit is judged against (predicting the
  prior, an untrained network), the divergence bound, whether a fit learned
  nothing, and the advice of the warnings when it failed;
- :class:`Plateau`: ``n_iter_no_change`` epochs without an improvement of
  ``tol`` of the training loss or the validation score.

Divergence. A mini-batch whose loss (without the L2 penalty) is not finite,
or exceeds ``DIVERGENCE_FACTOR`` (1e4) times the loss of predicting the prior
(``max(prior_loss, start_loss, 1)``: the entropy of the class frequencies, or
half the variance of the scaled targets, or half their mean square when they
are not centred), or an epoch that leaves a non-finite parameter, stops
training at once.
"""

# A healthy fit's mini-batch loss stays within a few hundred times the
# prior's loss: on digits, breast_cancer and wine, with widths 100 to 3 x 512,
# batch norm on and off, batch sizes 32 and 200 and adam at 0.05, the largest
# batch loss was 785 times it (one batch of a 3 x 512 network without batch
# norm). Rates that blow up (sgd 100, adam 10) pass 1e10 times it within an
# epoch, so the bound sits at 1e4.
DIVERGENCE_FACTOR = 1e4


class LossBounds:
    """The losses one fit is judged against, from its training rows.

    Parameters
    ----------
    prior_loss : float
        Loss of the best constant prediction (the head's ``prior_loss``).
    start_loss : float
        Loss of predicting what an untrained network starts near (the
        head's ``start_loss``).
    learning_rate_init : float
        Named in the advice of the warnings.
    """

    def __init__(self, prior_loss, start_loss, learning_rate_init):
        self.prior_loss = prior_loss
        self.start_loss = start_loss
        self.learning_rate_init = learning_rate_init
        self.divergence_bound = DIVERGENCE_FACTOR * max(prior_loss, start_loss, 1.0)
        # An untrained network this far above the prior cannot reach the
        # targets by small steps: their location is the cause, not the rate.
        self.far_start = start_loss > 10 * max(prior_loss, 1.0)

    @classmethod
    def of(cls, head, target, sample_weight, learning_rate_init):
        """The bounds of `head` on these training rows."""
        return cls(
            head.prior_loss(target, sample_weight),
            head.start_loss(target, sample_weight),
            learning_rate_init,
        )

    def exploded(self, loss):
        """Whether a mini-batch loss is NaN, infinite or over the bound."""
        return not loss <= self.divergence_bound

    def learned_nothing(self, data_losses):
        """Whether a call of 5 epochs or more ended with a training loss
        within 1% of that of predicting the prior.

        An epoch's loss is averaged while the model changes, so the first
        few epochs of a fit that is learning can end above the prior's loss.
        The 1% margin catches a model regularised to chance, whose loss ends
        a hair below the prior's (a weak but real signal fitted by a 100-unit
        network ends several percent below it). A constant target (a prior
        loss of 0) has nothing to learn.
        """
        return (
            self.prior_loss > 0
            and len(data_losses) >= 5
            and data_losses[-1] >= 0.99 * self.prior_loss
        )

    def divergence_cause(self, loss):
        """What went wrong, given the batch loss that exploded (None: the
        parameters became non-finite)."""
        if loss is None:
            return "the parameters became non-finite"
        if loss == loss and abs(loss) != float("inf"):
            return (
                f"the mini-batch loss reached {loss:.3g}, over "
                f"{self.divergence_bound:.3g} ({DIVERGENCE_FACTOR:g} times the "
                "loss of predicting the prior or of an untrained network)"
            )
        return "the loss became non-finite"

    def advice(self, alternative=""):
        """What to change, for the warnings of a failed fit."""
        if self.far_start:
            return (
                "The targets are far from 0, near which an untrained network "
                f"starts (predicting 0 loses {self.start_loss:.3g}, predicting "
                f"their mean {self.prior_loss:.3g}): centre and scale them "
                "(scale_target=True)."
            )
        alternative = f" {alternative}" if alternative else ""
        return (
            "Try a lower learning_rate_init "
            f"(got {self.learning_rate_init}){alternative}."
        )


class Plateau:
    """``n_iter_no_change`` epochs without an improvement of ``tol``.

    The count itself lives in the history (``no_improvement_count``), which
    a warm start carries on.

    Parameters
    ----------
    tol : float
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int or inf
        Epochs without improvement that make a plateau.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change

    def reached(self, no_improvement_count):
        """Whether the epochs without improvement make a plateau."""
        return no_improvement_count > self.n_iter_no_change

    def message(self, validating):
        """The sentence that names the plateau."""
        what = "Validation score" if validating else "Training loss"
        return (
            f"{what} did not improve more than tol={self.tol:f} for "
            f"{self.n_iter_no_change} consecutive epochs."
        )
