"""Sphinx configuration: numpydoc, autosummary API pages and a sphinx-gallery of examples/.

Build offline, warnings as errors, as CI does::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Links to the Python, NumPy, SciPy, scikit-learn, PyTorch and skorch docs (intersphinx) need their
inventories from the network, so they are made only when ``SKLEARN_ELM_DOCS_INTERSPHINX=1``; without
it those references render as plain code and the build needs no network.  ``-D plot_gallery=0``
builds the gallery pages without running the examples.
"""

import os

import sklearn_elm

project = "sklearn_elm"
author = "sklearn_elm developers"
release = version = sklearn_elm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
autosummary_generate = True
# class pages document the members a class defines, below its own docstring (no __init__ page)
templates_path = ["_templates"]
numpydoc_show_class_members = False
html_theme = "pydata_sphinx_theme"
exclude_patterns = ["_build"]

if os.environ.get("SKLEARN_ELM_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
    }

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    # every plot_*.py is run, so the gallery shows real output and a broken example fails the build
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    # the timings table is written beside conf.py; it is a build output, not a page of the docs
    "write_computation_times": False,
}


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out the ``set_*_request`` methods scikit-learn generates on every estimator.

    They are set on each subclass, so autodoc takes them for the class's own members; their
    docstrings belong to scikit-learn's metadata routing and cite its user guide.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
