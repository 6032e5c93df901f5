"""The docs are true: every `leads` command they show runs, and every relative link leads somewhere.

The commands are the lines of the ```bash / ```sh blocks of README.md and docs/*.md whose command
is `leads` (after any VAR=value prefixes), plus the ```python blocks. They run as a person would
type them, in a shell, in document order (README first, then docs/*.md by name) in one temporary
project: the README's `leads demo` makes the demo data the later pages work on. The reasoner's
commands go to the local OpenAI-compatible test server on loopback. A block that cannot run
here is preceded by `<!-- docs-test: skip: <why> -->`; there are few, and the test says which.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lead_assets.config.settings import PROJECT_ROOT
from lead_assets.warehouse.connection import connect
from lead_assets_tests.conftest import FIXTURES, TODAY, write_config
from lead_assets_tests.openai_server import FakeOpenAI, bad_request

SKIP_MARK = re.compile(r"<!--\s*docs-test:\s*skip:\s*(.+?)\s*-->")
SHELL_LANGS = {"bash", "sh", "shell", "console"}
ENV_PREFIX = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*")
MAX_SKIPPED_BLOCKS = 3


def doc_pages() -> list[Path]:
    """README first (its `leads demo` sets up the project), then every docs page by name."""
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def fenced_blocks(path: Path) -> list[dict]:
    """Each fenced block: language, first line number, lines, and the skip reason if marked."""
    blocks, current, previous = [], None, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if current is None and line.startswith("```"):
            mark = SKIP_MARK.search(previous)
            current = {"lang": line[3:].strip().lower(), "line": number + 1, "lines": [],
                       "skip": mark.group(1) if mark else None}
        elif current is not None and line.startswith("```"):
            blocks.append(current)
            current = None
        elif current is not None:
            current["lines"].append(line)
        if line.strip():
            previous = line
    assert current is None, f"{path.name}: a fenced block is never closed"
    return blocks


def shell_commands(lines: list[str]) -> list[tuple[int, str]]:
    """(line offset, command) of each `leads ...` command of a shell block, continuations joined."""
    commands, pending, first = [], "", 0
    for offset, line in enumerate(lines):
        if not pending:
            first = offset
        pending += line
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        command, pending = pending.strip(), ""
        if ENV_PREFIX.sub("", command).startswith("leads "):
            commands.append((first, command))
    return commands


def _bare(command: str) -> str:
    """The command without its trailing comment."""
    return re.sub(r"\s+#.*$", "", command)


def documented_commands() -> tuple[list[tuple[str, str]], list[str]]:
    """([(where, shell command)], [skipped blocks]) across the docs, in the order they run."""
    commands, skipped = [], []
    for page in doc_pages():
        name = page.relative_to(PROJECT_ROOT)
        for block in fenced_blocks(page):
            where = f"{name}:{block['line']}"
            if block["skip"]:
                skipped.append(f"{where} ({block['skip']})")
            elif block["lang"] in SHELL_LANGS:
                commands += [(f"{name}:{block['line'] + offset}", c) for offset, c in shell_commands(block["lines"])]
            elif block["lang"] == "python":
                script = "\n".join(block["lines"]) + "\n"
                commands.append((where, f"python - <<'PYTHON'\n{script}PYTHON"))
    return commands, skipped


def test_readme_first_screen_says_what_it_is_and_how_to_run_it():
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:25])
    assert "permits" in first_screen and "leads" in first_screen
    for needed in ("make demo", "make test", "](docs/ui-asset-graph.png)"):
        assert needed in first_screen, needed
    assert len(text.splitlines()) <= 150, "the README should fit in a few screens; move details to docs/"


def test_the_docs_show_commands_and_skip_few():
    commands, skipped = documented_commands()
    assert _bare(commands[0][1]) == "leads demo", "the README's first command makes the demo the others use"
    pages = {where.split(":")[0] for where, _ in commands}
    assert {"README.md", "docs/operations.md", "docs/selling.md", "docs/reasoner.md"} <= pages
    assert len(commands) >= 40
    assert len(skipped) <= MAX_SKIPPED_BLOCKS, f"too many blocks skipped: {skipped}"


def _project(root: Path) -> None:
    """A project folder like the repository's: leads.toml with its paths here, the Dagster
    instance config, the Austin example config and the fixtures it reads."""
    write_config(root)
    (root / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", root / "dagster_home" / "dagster.yaml")
    shutil.copytree(PROJECT_ROOT / "examples", root / "examples")
    (root / "lead_assets_tests").mkdir()
    (root / "lead_assets_tests" / "fixtures").symlink_to(FIXTURES, target_is_directory=True)


def test_every_documented_command_runs_on_the_demo(tmp_path):
    commands, _ = documented_commands()
    _project(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LEADS_", "OPENAI_")) and k != "DAGSTER_HOME"}
    failures = []
    with FakeOpenAI() as server:
        # The model refuses one demo owner's permits (HTTP 400, a permanent error): the README's
        # model run leaves RETRY rows, so the retry commands after it have leads to retry.
        server.when('"owner_name": "COLEMAN, EMILY', bad_request())
        env.update({
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            "LEADS_CONFIG": str(tmp_path / "leads.toml"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
            "LEADS_TODAY": TODAY.isoformat(),   # the permit numbers in docs/selling.md are this demo's
            "LEADS_OPENAI_BASE_URL": server.base_url, "LEADS_OPENAI_API_KEY": "sk-docs-test",
        })
        for where, command in commands:
            started = time.monotonic()
            done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=600)
            print(f"{time.monotonic() - started:6.1f}s  rc {done.returncode}  {where}  {command.splitlines()[0][:80]}")
            if done.returncode != 0:
                failures.append(f"{where}: `{command.splitlines()[0]}` exited {done.returncode}: "
                                f"{(done.stderr or done.stdout).strip()[-400:]}")
            if where.startswith("README.md") and _bare(command) == "leads demo":
                assert done.returncode == 0, failures[-1]   # nothing after it can run without the demo
    assert not failures, "\n".join(failures)
    assert (tmp_path / "sold.csv").read_text().startswith("city,")   # `leads list ... > sold.csv`
    with connect(tmp_path / "warehouse.duckdb") as con:                # the Python example's sale
        assert con.execute("SELECT buyer FROM sales WHERE permit_id = 'B26-12322'").fetchall() == \
            [("ABC Pool Company",)]


# ---------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`]*`")


def heading_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to -."""
    anchors, fence = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and (m := re.match(r"^#{1,6}\s+(.*)", line)):
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            anchors.add(slug)
    return anchors


def relative_links(path: Path) -> list[tuple[int, str]]:
    links, fence = [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            fence = not fence
            continue
        if fence:
            continue
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):   # http:, https:, mailto: are not files
                links.append((number, target))
    return links


@pytest.mark.parametrize("page", doc_pages(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_points_to_a_file_and_heading(page):
    broken = []
    for number, target in relative_links(page):
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"line {number}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
            broken.append(f"line {number}: {target} (no such heading in {linked.name})")
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(PROJECT_ROOT / t.partition("#")[0]).resolve()
              for _, t in relative_links(PROJECT_ROOT / "README.md")}
    unlinked = [p.name for p in doc_pages()[1:] if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link to: {unlinked}"
