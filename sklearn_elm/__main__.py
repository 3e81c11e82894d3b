"""``python -m sklearn_elm``: the ``sklearn-elm`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
