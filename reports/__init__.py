"""Conformance reports: results.json -> one self-contained HTML file, JUnit XML, allure labels.

    from reports.render import render
    from reports.junit import write_junit
    from reports.model import load
    html = render(load("results.json"), baseline=None)

See reports/README.md.
"""

from .junit import write_junit
from .model import ResultsError, load
from .render import render

__all__ = ["ResultsError", "load", "render", "write_junit"]
