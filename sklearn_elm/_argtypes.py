"""Argument types of the command line: values checked as argparse parses them.

Examples
--------
>>> from sklearn_elm._argtypes import fraction, ploidy, positive_int, rate
>>> positive_int("3"), fraction("0.25"), ploidy("auto"), ploidy("2"), rate("0.05")
(3, 0.25, 'auto', 2, 0.05)
>>> positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a positive integer, got 0
>>> rate("1")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must lie strictly between 0 and 1 (e.g. 0.05 for 5 %), got 1
"""

import argparse

__all__ = ["device", "fraction", "ploidy", "positive_int", "rate", "seed"]


def _checked(convert, ok, requirement, name=None):
    """An argparse type: ``convert(text)``, refused unless ``ok`` of it."""
    def parse(text):
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must {requirement}, got {text}")
        return value

    parse.__name__ = name or convert.__name__  # argparse's "invalid <name> value"
    return parse


positive_int = _checked(int, lambda v: v >= 1, "be a positive integer")
seed = _checked(int, lambda v: 0 <= v < 2**32, "be an integer in [0, 2**32)")
fraction = _checked(float, lambda v: 0 < v <= 1, "lie in (0, 1]")
#: A rate such as a false discovery rate: a float in (0, 1), NaN refused.
rate = _checked(float, lambda v: 0 < v < 1, "lie strictly between 0 and 1 (e.g. 0.05 for 5 %)",
                name="rate")
ploidy = _checked(lambda text: text if text == "auto" else int(text),
                  lambda v: v in ("auto", 1, 2), "be auto, 1 or 2", name="ploidy")


def device(text):
    """A torch device that exists here: ``cpu``, or ``cuda``/``cuda:N``, ``mps`` where available.

    Examples
    --------
    >>> from sklearn_elm._argtypes import device
    >>> device("cpu")
    'cpu'
    """
    import torch

    try:
        parsed = torch.device(text)
    except RuntimeError as exc:
        raise argparse.ArgumentTypeError(f"must be a torch device such as cpu or cuda, got "
                                         f"{text}") from exc
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}.get(parsed.type, False)
    if parsed.type == "cuda" and available and parsed.index is not None:
        available = parsed.index < torch.cuda.device_count()
    if not available:
        raise argparse.ArgumentTypeError(f"{text} is not available on this machine; use cpu")
    return text
