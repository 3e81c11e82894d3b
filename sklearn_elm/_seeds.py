"""Seeds as scikit-learn takes them: None, an int or a numpy ``RandomState``.

A numpy ``Generator`` is refused by name, with the fix, before scikit-learn's own checks
(``check_random_state``, ``validate_params``), whose messages name neither.
"""

import functools
import numbers

import numpy as np

__all__ = ["check_seed", "refuses_generators"]


def check_seed(random_state):
    """Raise a ValueError unless ``random_state`` is None, an integer or a numpy
    ``RandomState``, as in scikit-learn; a numpy ``Generator`` is named, with the fix.

    Parameters
    ----------
    random_state : object
        The seed to check.

    Raises
    ------
    ValueError
        For anything else, naming what was given.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._seeds import check_seed
    >>> check_seed(0)
    >>> check_seed(np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    ValueError: random_state must be None, an int or a numpy RandomState, ...
    """
    if random_state is None or isinstance(random_state, (numbers.Integral,
                                                         np.random.RandomState)):
        return
    fix = (": pass an int drawn from it, e.g. int(rng.integers(2**31))"
           if isinstance(random_state, np.random.Generator) else "")
    raise ValueError("random_state must be None, an int or a numpy RandomState, as in "
                     f"scikit-learn; got {type(random_state).__name__}{fix}.")


def refuses_generators(function):
    """``function`` with its keyword argument ``random_state`` checked by :func:`check_seed`
    first, so that a ``Generator`` gets the fix where ``validate_params`` would name none.

    Parameters
    ----------
    function : callable
        Takes ``random_state`` by keyword.

    Returns
    -------
    wrapped : callable
        The same function, checked first.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elm._seeds import refuses_generators
    >>> draw = refuses_generators(lambda *, random_state=None: random_state)
    >>> draw(random_state=3)
    3
    >>> draw(random_state=np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    ValueError: random_state must be None, an int or a numpy RandomState, ...
    """
    @functools.wraps(function)
    def checked(*args, **kwargs):
        check_seed(kwargs.get("random_state"))
        return function(*args, **kwargs)

    return checked
