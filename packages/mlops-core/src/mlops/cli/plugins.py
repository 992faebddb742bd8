"""``mlops plugins``: the installed plugins and what each provides (serializers, stores, processors),
with the distribution and version it comes from."""

from __future__ import annotations

from typing import Any

import click

from mlops.cli._common import json_option
from mlops.cli._format import print_json, print_table, section
from mlops.metadata.environment import installed_version


@click.command("plugins")
@json_option
def plugins_command(as_json: bool) -> None:
    """List the installed plugins and what they provide.

    Serializers save and load models of a framework, stores serve URL schemes, processors
    are ready-made data processors. Each comes with its distribution and version.
    """
    from mlops.plugins import manager as plugins

    def origin(module: str) -> dict[str, Any]:
        dist = plugins.distribution_of_module(module)
        version = installed_version(dist) if dist else None
        return {"distribution": dist, "version": version}

    data: dict[str, list[dict[str, Any]]] = {
        "plugins": [{"name": n, "module": m, **origin(m)} for n, m in plugins.loaded_plugins().items()],
        "serializers": [
            {"name": name, "class": _qualname(type(s)), "priority": s.priority, **origin(type(s).__module__)}
            for name, s in plugins.serializers().items()
        ],
        "stores": [
            {"schemes": list(cls.schemes), "class": _qualname(cls), **origin(cls.__module__)}
            for cls in plugins.store_classes()
        ]
        + [
            {"schemes": ["file"], "class": "mlops.store.LocalStore", **origin("mlops.store")},
            {"schemes": ["*"], "class": "mlops.store.FsspecStore", **origin("mlops.store")},
        ],
        "processors": [{"class": qualname, **origin(cls.__module__)} for qualname, cls in plugins.processors().items()],
    }
    if as_json:
        print_json(data)
        return
    section("Plugins", first=True)
    print_table(
        ["NAME", "MODULE", "DISTRIBUTION", "VERSION"],
        [[p["name"], p["module"], *_origin_cells(p)] for p in data["plugins"]],
        indent=2,
    )
    section("Serializers")
    print_table(
        ["NAME", "CLASS", "DISTRIBUTION", "VERSION", "PRIORITY"],
        [[s["name"], s["class"], *_origin_cells(s), str(s["priority"])] for s in data["serializers"]],
        indent=2,
    )
    section("Stores")
    rows = [
        [", ".join(p["schemes"]) if p["schemes"] != ["*"] else "* (every other)", p["class"], *_origin_cells(p)]
        for p in data["stores"]
    ]
    print_table(["SCHEMES", "CLASS", "DISTRIBUTION", "VERSION"], rows, indent=2)
    section("Processors")
    print_table(
        ["CLASS", "DISTRIBUTION", "VERSION"], [[p["class"], *_origin_cells(p)] for p in data["processors"]], indent=2
    )


def _origin_cells(item: dict[str, Any]) -> list[str]:
    return [item["distribution"] or "-", item["version"] or "-"]


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


COMMANDS = (plugins_command,)
