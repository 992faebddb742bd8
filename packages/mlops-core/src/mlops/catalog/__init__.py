"""The catalog of a store in the browser: ``mlops ui`` (a read-only local server) and ``mlops report``
(the same views in one self-contained HTML file).

Modules: ``data`` reads the store into view records (the only reader of meta.json fields here),
``render`` turns them into HTML through Jinja2, ``server`` serves them, ``commands`` holds the two
click commands. Nothing here is imported by ``import mlops``; Jinja2 loads only when a page is made.
"""

from mlops.catalog.report import write_report

__all__ = ["write_report"]
