"""Catalog views -> HTML, through the Jinja2 templates in ``templates/`` (autoescaped).

The same view templates make both outputs: the live server renders one view per page
(:func:`render_page`), the report renders every view into one self-contained file with the
scripts and styles inlined (:func:`render_report`). Data the scripts need (leaderboard rows,
training curves, the lineage graph) is embedded as JSON in a ``<script type="application/json">``
element, escaped so that no stored string can close it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import math
from collections.abc import Collection, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from mlops.catalog.data import Catalog, ModelView, lower_is_better
from mlops.errors import MissingDependencyError
from mlops.utils.humanize import format_bytes, format_number, format_timestamp
from mlops.utils.install import install_command
from mlops.versions.layout import moved_note

if TYPE_CHECKING:
    import jinja2

VENDOR_SCRIPTS = ("vendor/vega.min.js", "vendor/vega-lite.min.js", "vendor/vega-embed.min.js")
APP_SCRIPT = "catalog.js"
STYLESHEET = "catalog.css"
STATIC_FILES = (*VENDOR_SCRIPTS, APP_SCRIPT, STYLESHEET)
"""Every file the server may send from ``static/``: a fixed list, never a path from a request."""
SERVER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
"""The live pages' Content-Security-Policy: scripts only from this server, no request elsewhere."""
Diffs = Mapping[tuple[str, str], "dict[str, Any] | str"]


@cache
def static_file(name: str) -> bytes:
    """The bytes of a file of the catalog's ``static/`` folder (``name`` from :data:`STATIC_FILES`)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files("mlops.catalog").joinpath("static", *name.split("/")).read_bytes()


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the catalog templates (HTML autoescaping on for every template)."""
    try:
        import jinja2
    except ImportError as exc:
        raise MissingDependencyError(
            f"the catalog needs Jinja2, which is not installed; run: {install_command('ui')}"
        ) from exc
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlops.catalog", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = format_bytes
    env.filters["number"] = format_number
    env.filters["when"] = format_timestamp
    env.filters["shape"] = shape_text
    env.filters["value"] = value_text
    env.globals["lower_is_better"] = lower_is_better
    env.globals["moved_note"] = moved_note
    return env


def render_page(catalog: Catalog, view: str, **context: Any) -> str:
    """One view as a page of the live server; ``view`` is roots, leaderboard, lineage, compare (with
    ``ids=``, the models to compare), dataset or model (with ``record=``), or diff (with ``a=``,
    ``b=``, ``result=``)."""
    data: dict[str, Any] = {"mode": "server"}
    if view == "leaderboard":
        data.update(leaderboard_data(catalog))
    elif view == "compare":
        data.update(leaderboard_data(catalog, only=context.get("ids") or ()))
    elif view == "model":
        record: ModelView = context["record"]
        data["histories"] = {record.id: record.history}
    elif view == "lineage":
        data["lineage"] = lineage_data(catalog)
    template = environment().get_template("page.html")
    return str(
        template.render(
            catalog=catalog,
            view=view,
            mode="server",
            link=_server_link,
            data_json=json_for_html(data),
            scripts=[f"/static/{name}" for name in (*VENDOR_SCRIPTS, APP_SCRIPT)],
            **context,
        )
    )


def render_report(catalog: Catalog, diffs: Diffs) -> str:
    """Every view in one self-contained HTML file: data embedded, scripts and styles inline."""
    data = {"mode": "report", **leaderboard_data(catalog), "lineage": lineage_data(catalog)}
    scripts = [static_file(name).decode() for name in (*VENDOR_SCRIPTS, APP_SCRIPT)]
    csp = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(f"'sha256-{_digest(text)}'" for text in scripts),
            "style-src 'unsafe-inline'",
            "img-src data:",
            "connect-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
        ]
    )
    template = environment().get_template("report.html")
    return str(
        template.render(
            catalog=catalog,
            mode="report",
            link=_report_link,
            data_json=json_for_html(data),
            scripts=scripts,
            stylesheet=static_file(STYLESHEET).decode(),
            csp=csp,
            diffs=diffs,
        )
    )


def leaderboard_data(catalog: Catalog, only: Collection[str] | None = None) -> dict[str, Any]:
    """The leaderboard's rows (one per model version) and the models' training curves: every
    model's, or those of the ids in ``only`` (what the compare view of the server needs)."""
    chosen = [model for model in catalog.models.values() if only is None or model.id in only]
    rows = []
    for model in chosen:
        meta = model.meta
        rows.append(
            {
                "id": model.id,
                "name": meta.name,
                "version": model.shown_version,
                "root": model.root,
                "created_at": meta.created_at,
                "framework": meta.serializer.name,
                "framework_versions": ", ".join(f"{k} {v}" for k, v in meta.framework.items()),
                "dataset": model.dataset_label,
                "dataset_id": model.dataset_id,
                "dataset_path": meta.dataset.path,
                "tags": list(meta.tags),
                "aliases": list(catalog.aliases_of(model.id)),
                "params": plain_json(meta.train_args),
                "last": model.last,
                "best": model.best,
            }
        )
    return {
        "models": rows,
        "histories": {model.id: model.history for model in chosen},
        "lower_is_better": sorted({metric for model in chosen for metric in model.history if lower_is_better(metric)}),
    }


def lineage_data(catalog: Catalog) -> dict[str, Any]:
    """The lineage graph's nodes and edges, with each node's position."""
    nodes = [dataclasses.asdict(node) for node in catalog.lineage_nodes]
    return {"nodes": nodes, "edges": [list(edge) for edge in catalog.lineage_edges]}


def plain_json(value: Any) -> Any:
    """A value read from meta.json as strict JSON for a page: a non-finite number (which Python's
    JSON reader accepts) as ``null``, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def json_for_html(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: ``<``, ``>``, ``&`` and quotes escaped."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(char, escape)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    from markupsafe import Markup

    return Markup(text)  # type: ignore[no-any-return]  # a str subclass; untyped where markupsafe is absent


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _server_link(route: str) -> str:
    return "/" + route


def _report_link(route: str) -> str:
    return "#/" + route


# --- formatting filters (the CLI's conventions) -----------------------------------------------------------


def shape_text(shape: Any) -> str:
    if shape is None:
        return "?"
    return " x ".join(str(n) for n in shape) if shape else "scalar"


def value_text(value: Any, limit: int = 120) -> str:
    """A metadata value as short text: strings as they are, anything else as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
