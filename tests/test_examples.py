"""The gallery scripts run to the end (they are documentation: a broken one misleads)."""

import runpy
from pathlib import Path

import matplotlib
import matplotlib.pyplot
import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(script, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.setattr("matplotlib.pyplot.show", lambda *args, **kwargs: None)
    runpy.run_path(str(script), run_name="__main__")
    matplotlib.pyplot.close("all")


def test_examples_are_found():
    assert len(EXAMPLES) >= 2
