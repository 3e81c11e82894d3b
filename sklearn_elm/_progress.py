"""Training callbacks of the command line: per-epoch progress, and Ctrl-C that stops the run.

skorch ends training quietly on ``KeyboardInterrupt`` and returns a partly
trained network; :class:`StopOnInterrupt` raises the interrupt again once
training has ended, so that a run the user interrupted stops there.
"""

import sys
import time

from skorch.callbacks import Callback

__all__ = ["EpochProgress", "StopOnInterrupt"]


def _say(message):
    print(message, file=sys.stderr, flush=True)


class EpochProgress(Callback):
    """Print one line per training epoch to the standard error: losses, validation r2, time;
    and at the end of the epochs, that the refit of the network's paths follows.

    The network trains on standardised targets with the mean squared error,
    so ``1 - valid_loss`` is the validation r2 averaged over the traits.  The
    standard output is left to the summary tables.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm import NeuralGPRegressor
    >>> from sklearn_elm._progress import EpochProgress
    >>> X = np.random.default_rng(0).choice([-1.0, 1.0], size=(50, 3))
    >>> _ = NeuralGPRegressor(module__hidden_sizes=(4,), max_epochs=1, random_state=0,
    ...                       callbacks=[("progress", EpochProgress())]).fit(X, X[:, 0])
    """

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()
        self.max_epochs_ = net.max_epochs
        self.printed_ = len(net.history)  # epochs shown (a warm start's are not)
        _say(f"{'epoch':>9}  {'train loss':>10}  {'valid loss':>10}  {'valid r2':>8}  "
             f"{'time':>6}  {'total':>6}")

    def on_epoch_end(self, net, **kwargs):
        self._show(net.history[-1])
        self.printed_ = len(net.history)

    def _show(self, row):
        valid = row.get("valid_loss")
        best = "  *" if row.get("valid_loss_best") else ""
        valid_text = f"{valid:10.4f}  {1 - valid:8.4f}" if valid is not None else " " * 20
        _say(f"{row['epoch']:>4}/{self.max_epochs_:<4}  {row['train_loss']:10.4f}  "
             f"{valid_text}  {row['dur']:5.2f}s  {time.perf_counter() - self.start_:5.0f}s{best}")

    def on_train_end(self, net, **kwargs):
        # an epoch whose end a callback before this one cut short (the path's stopping
        # rule ends training there) is shown here
        for row in net.history[getattr(self, "printed_", len(net.history)):]:
            if "train_loss" in row:
                self._show(row)
        _say(f"  epochs done in {time.perf_counter() - self.start_:.0f} s; refitting the linear "
             "and pair paths on every sample (cross-validated)...")


class StopOnInterrupt(Callback):
    """Raise ``KeyboardInterrupt`` at the end of training if ``interrupted`` is not empty.

    Parameters
    ----------
    interrupted : list
        Filled by the SIGINT handler of the command line.

    Examples
    --------
    >>> from sklearn_elm._progress import StopOnInterrupt
    >>> StopOnInterrupt([]).on_train_end(None)  # nothing happened: nothing is raised
    """

    def __init__(self, interrupted):
        self.interrupted = interrupted

    def on_train_end(self, net, **kwargs):
        if self.interrupted:
            raise KeyboardInterrupt
