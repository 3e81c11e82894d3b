"""The sklearn-elm report: summary tables, CSV files, metrics.json, PNG figures, index.html.

Presentation only: everything shown comes from an
:class:`~sklearn_elm.workflow.Analysis`.  ``_files`` knows the report's files
and writes them all or nothing, ``_tables`` the tables (text, CSV, JSON),
``_html`` the page and ``_figures`` the figures; ``_ranking`` chooses the pairs
listed and ``_inference`` reads the standard errors, p-values and significant
pairs that they show.
"""

from ._files import (
    REPORT_FILES,
    check_disk_space,
    check_output_directory,
    full_matrix_bytes,
    output_lock,
    write_report,
)
from ._tables import format_summary, rank_pairs, summary_tables

__all__ = [
    "REPORT_FILES",
    "check_disk_space",
    "check_output_directory",
    "format_summary",
    "full_matrix_bytes",
    "output_lock",
    "rank_pairs",
    "summary_tables",
    "write_report",
]
