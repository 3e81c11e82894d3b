"""The API reference (docs/api.rst) lists every public name, each under the module it lives in.

Building the docs themselves is CI's job (``sphinx-build -W`` in ``.ci/run``); this test only
reads the reStructuredText, so it needs no Sphinx and runs in milliseconds.
"""

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
PUBLIC_MODULES = [
    "sklearn_elm",
    "sklearn_elm.nn",
    "sklearn_elm.workflow",
    "sklearn_elm.metrics",
    "sklearn_elm.datasets",
]


def documented_names(text):
    """Map each module of ``.. currentmodule::`` to the names its autosummary tables list."""
    names, module, in_table = {}, None, False
    for line in text.splitlines():
        if match := re.match(r"\.\. currentmodule:: (\S+)", line):
            module, in_table = match[1], False
        elif line.startswith(".. autosummary::"):
            in_table = True
        elif in_table and line.strip() and not line.strip().startswith(":"):
            if not line.startswith(" "):
                in_table = False
            else:
                names.setdefault(module, set()).add(line.strip())
    return names


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_api_reference_lists_every_public_name(module_name):
    """Every name in a public module's ``__all__`` has an autosummary entry under that module.

    Fails when a public function or class is added without a line in docs/api.rst, or is listed
    under a module it is not imported from (its page would then not be generated).
    """
    module = importlib.import_module(module_name)
    public = set(module.__all__) - {"__version__"}
    listed = documented_names(API.read_text(encoding="utf-8")).get(module_name, set())
    assert public - listed == set(), f"add these to docs/api.rst under {module_name}"


def test_api_reference_lists_no_private_or_missing_name():
    """Every autosummary entry in docs/api.rst is in its module's ``__all__``.

    Fails on an entry that is misspelt, removed from the package or private, which Sphinx would
    report only as a failed import.
    """
    for module_name, listed in documented_names(API.read_text(encoding="utf-8")).items():
        public = set(importlib.import_module(module_name).__all__)
        assert listed - public == set(), f"not public in {module_name}"


def test_documented_names_reads_autosummary_tables():
    """The parser takes the entries of each table, not its options, under the current module."""
    text = (
        ".. currentmodule:: pkg\n\n.. autosummary::\n   :toctree: generated/\n\n   f\n   C\n\n"
        "Text\n\n.. currentmodule:: pkg.sub\n\n.. autosummary::\n\n   g\n"
    )
    assert documented_names(text) == {"pkg": {"f", "C"}, "pkg.sub": {"g"}}
