"""The gallery scripts run to the end and their headline results hold.

Each ``examples/plot_*.py`` asserts what it shows (the network beats ridge regression on an
epistatic trait; the debiased variance components are within sampling error of the truth), so
running it checks that claim: a broken or wrong example misleads its readers.
"""

import ast
import runpy
from pathlib import Path

import matplotlib
import matplotlib.pyplot
import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_and_its_assertions_hold(script, monkeypatch):
    """The script runs headless to the end; its own ``assert`` statements are the checks."""
    matplotlib.use("Agg")
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *args, **kwargs: None)
    runpy.run_path(str(script), run_name="__main__")
    matplotlib.pyplot.close("all")


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_asserts_its_result(script):
    """Every gallery script holds at least one top-level ``assert`` on its result.

    Without one, running the script (above) checks only that it does not crash.
    """
    tree = ast.parse(script.read_text(), filename=str(script))
    asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    assert asserts, f"{script.name} asserts nothing about its result"


def test_examples_are_found():
    assert len(EXAMPLES) >= 2
