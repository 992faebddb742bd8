"""The documentation cannot rot: every python and console block of README.md and of each page of
docs/ runs as written, the plugin tutorial works when followed literally, and the README's test
command is the one CI runs.

A page runs as one Python program in a fresh folder: the python blocks of the pages it continues
(``<!-- docs-test: setup PAGE -->``), then its own blocks in document order, each ``$ mlops ...``
line of a console block run as a command whose first output word must be the one shown. The
markers are described in docs/development.md ("The documentation").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in DOCS.glob("*.md"))]
RUN = {"python", "console"}
NOT_RUN = {"bash", "text", "toml"}
"""Fences that are shown, never run: ``pip install`` lines, servers, file layouts, configuration."""
MARKER = re.compile(r"^<!-- (?:docs|readme)-test: (?P<kind>setup|file|skip)(?: (?P<arg>.*?))? -->$", re.M)
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```[ \t]*$", re.S | re.M)
SNIPPET = re.compile(r'^--8<-- "(?P<file>[^":]+)(?::(?P<section>[\w-]+))?"[ \t]*$', re.M)
SECTION_MARK = re.compile(r"--8<-- \[(?P<end>start|end):(?P<name>[\w-]+)\]")
S3_ENDPOINT = "http://127.0.0.1:5077"
"""What the pages write for an S3-compatible server: the tests' moto server stands in for it."""
S3_BUCKET = "s3://my-bucket"


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    where: str  # "docs/cli.md, block 3", for messages
    file: str | None = None
    skip: str | None = None


@dataclass(frozen=True)
class Page:
    name: str
    setup: tuple[str, ...]
    blocks: tuple[Block, ...]

    def runnable(self) -> list[Block]:
        return [b for b in self.blocks if b.lang in RUN and b.file is None and b.skip is None]


def _section(text: str, name: str, source: str) -> str:
    """The lines between ``--8<-- [start:name]`` and ``--8<-- [end:name]``, as pymdownx.snippets
    includes them."""
    lines, inside, found = [], False, False
    for line in text.splitlines(keepends=True):
        mark = SECTION_MARK.search(line)
        if mark and mark["name"] == name:
            inside, found = mark["end"] == "start", True
            continue
        if inside and not mark:
            lines.append(line)
    assert found, f"{source} has no section {name!r}"
    return "".join(lines)


def _expand(text: str) -> str:
    """``text`` with its ``--8<-- "FILE[:SECTION]"`` lines replaced by what they include."""

    def include(match: re.Match[str]) -> str:
        included = (ROOT / match["file"]).read_text()
        return _expand(_section(included, match["section"], match["file"]) if match["section"] else included)

    return SNIPPET.sub(include, text)


def _path_of(name: str) -> Path:
    """A page named from the repository root (``README.md``, ``docs/cli.md``) or inside docs/."""
    for path in (ROOT / name, DOCS / name):
        if path.is_file():
            return path
    raise AssertionError(f"no page {name!r} (a setup marker names it)")


def parse(name: str) -> Page:
    text = _expand(_path_of(name).read_text())
    blocks = []
    for number, fence in enumerate(FENCE.finditer(text), start=1):
        before = text[: fence.start()].splitlines()
        markers = {}
        while before and (marker := MARKER.match(before[-1])):  # the marker lines right above the fence
            markers[marker["kind"]] = marker["arg"] or ""
            before.pop()
        where = f"{name}, block {number} ({fence['lang'] or 'plain'})"
        blocks.append(Block(fence["lang"], fence["code"], where, markers.get("file"), markers.get("skip")))
    setup = tuple(m["arg"] for m in MARKER.finditer(text) if m["kind"] == "setup")
    return Page(name, setup, tuple(blocks))


def _setup_chain(page: Page, seen: tuple[str, ...] = ()) -> list[Page]:
    """The pages whose python blocks run before ``page``'s, in order (each once)."""
    assert page.name not in seen, f"setup markers loop: {' -> '.join((*seen, page.name))}"
    chain: list[Page] = []
    for name in page.setup:
        before = parse(name)
        for dependency in [*_setup_chain(before, (*seen, page.name)), before]:
            if dependency.name not in [p.name for p in chain]:
                chain.append(dependency)
    return chain


def console_commands(code: str) -> list[tuple[str, str]]:
    """``(command, first line of its shown output)`` for every ``$ `` line of a console block."""
    lines = code.splitlines()
    commands = []
    for i, line in enumerate(lines):
        if line.startswith("$ "):
            shown = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith("$ ") else ""
            commands.append((line[2:], shown))
    return commands


# Runs inside the page's program: each `$ mlops ...` line becomes a call, in document order.
CONSOLE = r'''
import os as _os, re as _re, shlex as _shlex, subprocess as _subprocess, sys as _sys


def _newest(match):
    """models/NAME/2026-... in a command stands for the newest version under models/NAME."""
    versions = sorted(v for v in _os.listdir(match.group(1)) if not v.startswith("."))
    return match.group(1) + "/" + versions[-1]


def _console(command, shown, where):
    command = _re.sub(r"(models/[\w.-]+)/\d{4}-\d\d-\d\dT[\d:.]+", _newest, command)
    args = _shlex.split(command)
    result = _subprocess.run(
        [_sys.executable, "-m", "mlops", *args[1:]], capture_output=True, text=True, timeout=300
    )
    context = f"{where}: $ {command}\nexit status {result.returncode}"
    context += f"\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    if shown.startswith("mlops: error:"):  # the page shows this one failing, on purpose
        assert result.returncode == 1 and result.stderr.startswith("mlops: error:"), context
        return
    assert result.returncode == 0, context
    first = result.stdout.splitlines()[0] if result.stdout else ""
    shown = shown.replace("/tmp/demo", _os.getcwd())  # the folder the page's outputs were made in
    assert first.split()[:1] == shown.split()[:1], f"{context}\nthe page shows {shown!r}"
'''


def program(page: Page, substitute: dict[str, str]) -> str:
    """The Python program a page is: its setup pages' python blocks, then its own blocks."""

    def code(block: Block) -> str:
        text = block.code
        for shown, real in substitute.items():
            text = text.replace(shown, real)
        if block.lang == "python":
            return f"# --- {block.where}\n{text}"
        return "\n".join(f"_console({c!r}, {s!r}, {block.where!r})" for c, s in console_commands(text))

    setup = [b for p in _setup_chain(page) for b in p.runnable() if b.lang == "python"]
    return "\n".join([CONSOLE, *(code(b) for b in [*setup, *page.runnable()])])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_LOAD_PLUGINS"}  # as a user has it
    return {**env, **extra}


def _install_files(page: Page, tmp_path: Path) -> dict[str, str]:
    """The page's ``file`` blocks written into a folder and pip-installed (with their entry points)
    into a --target folder, never into the test venv; returns the environment that finds it."""
    files = {b.file: b.code for b in page.blocks if b.file}
    if not files:
        return {}
    plugin, target = tmp_path / "plugin", tmp_path / "site"
    plugin.mkdir()
    for name, code in files.items():
        (plugin / name).write_text(code)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(plugin)], check=True, capture_output=True)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))}


RUNNABLE = [name for name in PAGES if parse(name).runnable()]
EXPECTED_FILES = {
    "README.md": ["datasets/points/v1/meta.json", "datasets/points/v1/raw/points.csv"],
    "docs/plugins.md": ["models/linear/v1/weights.npy"],
    "docs/security.md": ["team", "team.pub", "datasets/points/v1/mlops.sig"],
}


@pytest.mark.parametrize("name", RUNNABLE)
def test_page_runs_as_written(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    page = parse(name)
    substitute = {}
    whole = program(page, {})
    if S3_ENDPOINT in whole or S3_BUCKET in whole:
        server, bucket = request.getfixturevalue("s3_server"), request.getfixturevalue("s3_bucket")
        substitute = {S3_ENDPOINT: server, S3_BUCKET: bucket}
    work = tmp_path / "work"
    work.mkdir()
    env = _env(**_install_files(page, tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", program(page, substitute)],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, f"{name}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    for file in EXPECTED_FILES.get(name, []):
        assert (work / file).exists(), f"{name} did not make {file}"


def test_every_block_is_run_or_marked_as_not_run() -> None:
    skipped = []
    for name in PAGES:
        text = _expand(_path_of(name).read_text())
        assert not re.search(r"^[ \t]+```", text, re.M), f"{name}: an indented fence would escape the tests"
        page = parse(name)
        for block in page.blocks:
            assert block.lang in RUN | NOT_RUN, f"{block.where}: run it (python, console) or show it (bash, text, toml)"
            if block.skip is not None:
                assert block.skip.strip(), f"{block.where}: say why it is skipped"
                skipped.append(block.where)
            if block.lang == "console":
                for command, _shown in console_commands(block.code):
                    only = f"{block.where}: only `$ mlops` lines run; show {command!r} in a bash block"
                    assert command.startswith("mlops "), only
                assert console_commands(block.code), f"{block.where}: a console block without a `$ mlops` line"
        if any(b.file for b in page.blocks):  # a plugin's files are exercised by the page's own code
            assert any(b.lang == "python" and not b.file for b in page.runnable()), name
    assert len(skipped) <= 3, f"keep exceptions few: {skipped}"
    assert {"README.md", "docs/cli.md", "docs/plugins.md", "docs/stores.md"} <= set(RUNNABLE)


def test_readme_commands_are_what_ci_runs() -> None:
    assert "pip install nox && nox -s demo" in README
    assert "pip install nox && nox " in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install" in ci and "nox" in ci and re.search(r"^python3 -m nox$", ci, re.M)


def _anchors(markdown: str) -> set[str]:
    """The ids MkDocs gives the headings of a page (its default slugify)."""
    headings = re.findall(r"^#+ (.+?)\s*$", re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M), re.M)
    return {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h.replace("`", "")).strip().lower()) for h in headings}


def test_readme_is_a_front_door_whose_links_resolve() -> None:
    assert len(README.splitlines()) <= 250
    for target in re.findall(r"\]\((?!https?://)([^)\s]+)\)", README):
        file, _, anchor = target.partition("#")
        path = ROOT / file
        assert path.exists(), f"README links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(_expand(path.read_text())), f"README links to {target}: no such heading"


def test_every_page_is_in_the_site() -> None:
    nav = set(re.findall(r"^\s+- [^:]+: ([\w-]+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M))
    assert nav == {p.name for p in DOCS.glob("*.md")}
