"""The documentation cannot drift: its examples run, its links resolve, its examples/ scripts work.

Every ```python block of README.md and of every docs/*.md (found by itself: a new page needs
no registration) runs here. The blocks of one page run in order in one namespace, in a fresh
subprocess whose working directory is a temporary directory where the repository's tests/ and
examples/ are reachable by those relative paths. A block preceded by the line
``<!-- docs-test: skip (REASON) -->`` is not run; the reason is required. In shell blocks, a
line ``pywamr ARGS  # prints X`` is run and must print X.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ROOT, run_python

DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINKED_PAGES = [*DOC_PAGES, ROOT / "CHANGELOG.md", ROOT / "examples" / "README.md",
                ROOT / "examples" / "payloads" / "README.md",
                ROOT / "bench" / "results" / "README.md"]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
# Small parameters for the example scripts (a script not listed runs with its defaults).
EXAMPLE_ARGS = {
    "teaclave_benchmark.py": ["--size-kib", "64", "--invocations", "3"],
    "startup_reuse.py": ["--invocations", "5"],
}
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
AOT_UNAVAILABLE = 3

# Runs the blocks (a JSON list) in one namespace; line numbers in tracebacks are the page's.
DRIVER = """
import json, sys
import pywamr
if __name__ == "__main__":
    namespace = {"__name__": "__main__"}
    for block in json.loads(open(sys.argv[1]).read()):
        code = compile("\\n" * (block["line"] - 1) + block["code"], block["path"], "exec")
        try:
            exec(code, namespace)
        except pywamr.AotUnavailableError as exc:
            print(f"{block['path']}:{block['line']}: {exc}", file=sys.stderr)
            sys.exit(AOT_UNAVAILABLE)
""".replace("AOT_UNAVAILABLE", str(AOT_UNAVAILABLE))


@dataclass
class Block:
    path: Path
    line: int  # the first line of code (after the opening fence), 1-based
    lang: str
    code: str
    skip: str | None


def blocks(path: Path) -> list[Block]:
    """Every fenced code block of a Markdown page."""
    lines = path.read_text().split("\n")
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent = len(opening["indent"])
        skip = None
        for previous in reversed(lines[:i]):
            if previous.strip():
                marker = SKIP.search(previous)
                skip = marker["reason"].strip() if marker else None
                break
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        assert end < len(lines), f"{path}:{i + 1}: unclosed code block"
        code = "\n".join(line[indent:] for line in lines[i + 1:end])
        found.append(Block(path, i + 2, opening["lang"], code, skip))
        i = end + 1
    return found


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang == "python"]


def page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", [p for p in DOC_PAGES if python_blocks(p)], ids=page_id)
def test_python_examples_run(page: Path, tmp_path: Path) -> None:
    runnable = []
    for block in python_blocks(page):
        if block.skip is None:
            runnable.append({"path": str(page), "line": block.line, "code": block.code})
    for name in ("tests", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    done = run_python(DRIVER, str(tmp_path / "blocks.json"), cwd=tmp_path, timeout=600)
    if done.returncode == AOT_UNAVAILABLE:
        pytest.skip(f"pywamr was built without the AOT compiler: {done.stderr.strip()}")
    assert done.returncode == 0, f"{page_id(page)}:\n{done.stdout}\n{done.stderr}"


def cli_examples() -> list[tuple[Path, int, str, str]]:
    """``pywamr ...  # prints X`` lines of the pages' shell blocks: (page, line, command, X)."""
    found = []
    for page in DOC_PAGES:
        for block in blocks(page):
            if block.lang not in ("sh", "console") or block.skip:
                continue
            for offset, line in enumerate(block.code.split("\n")):
                command, _, expected = line.partition("# prints ")
                if command.startswith("pywamr ") and expected:
                    found.append((page, block.line + offset, command.strip(), expected.strip()))
    return found


@pytest.mark.parametrize("page, line, command, expected", cli_examples(),
                         ids=lambda v: v.name if isinstance(v, Path) else str(v)[:40])
def test_cli_examples_print_what_they_say(page: Path, line: int, command: str, expected: str,
                                          tmp_path: Path) -> None:
    for name in ("tests", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    done = run_python("import sys; from pywamr.cli import main; sys.exit(main())",
                      *shlex.split(command)[1:], cwd=tmp_path)
    assert (done.returncode, done.stdout.strip()) == (0, expected), \
        f"{page_id(page)}:{line}: {command}\n{done.stderr}"


def test_skipped_examples_say_why() -> None:
    for page in DOC_PAGES:
        for line_no, line in enumerate(page.read_text().split("\n"), 1):
            if "docs-test" in line:
                assert SKIP.search(line), \
                    f"{page_id(page)}:{line_no}: use <!-- docs-test: skip (REASON) -->"


def test_block_parser() -> None:
    page = ROOT / "docs" / "api.md"
    (first,) = [b for b in python_blocks(page) if "Runtime(" in b.code][:1]
    assert page.read_text().split("\n")[first.line - 1] == first.code.split("\n")[0]
    assert all(b.lang for b in blocks(page))  # every block says its language


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_scripts_run(script: Path, tmp_path: Path) -> None:
    argv = [str(script), *EXAMPLE_ARGS.get(script.name, [])]
    done = run_python(f"import runpy, sys; sys.argv = {argv!r}; "
                      f"runpy.run_path({str(script)!r}, run_name='__main__')", cwd=tmp_path,
                      timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip()


def test_every_example_script_is_listed() -> None:
    listing = (ROOT / "examples" / "README.md").read_text()
    for script in EXAMPLES:
        assert f"]({script.name})" in listing, f"examples/README.md does not list {script.name}"


# -- links -----------------------------------------------------------------
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    found = set()
    in_code = False
    for line in page.read_text().split("\n"):
        if FENCE.match(line) or line.strip() == "```":
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
            found.add(slug)
    return found


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # not inside code blocks
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=page_id)
def test_relative_links_resolve(page: Path) -> None:
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        assert linked.exists(), f"{page_id(page)}: broken link {target}"
        if anchor and linked.suffix == ".md":
            assert anchor in anchors(linked), f"{page_id(page)}: no heading for {target}"


def test_readme_links_every_doc_page() -> None:
    readme_links = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md")}
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert page.resolve() in readme_links, f"README.md does not link {page_id(page)}"


def test_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text().split("\n")
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move details to docs/"


def test_every_wamr_patch_is_documented() -> None:
    table = (ROOT / "docs" / "reliability.md").read_text()
    for patch in sorted((ROOT / "vendor" / "patches").glob("*.patch")):
        assert f"| `{patch.stem}` |" in table, f"docs/reliability.md does not list {patch.name}"


def test_aot_is_documented() -> None:
    aot = (ROOT / "docs" / "aot.md").read_text()
    for needle in ("compile_aot", 'mode="aot"', "PYWAMR_CACHE_DIR", "PYWAMR_AOT_KEY",
                   "pywamr compile", "x86-64-v2", "JIT", "Threat model"):
        assert needle in aot


# -- benchmark results -----------------------------------------------------
def test_benchmark_results_follow_one_convention() -> None:
    """bench/results/<topic>.md, dated; <topic>.json/.png beside their page (README.md there)."""
    results = ROOT / "bench" / "results"
    assert not list((ROOT / "bench").glob("RESULTS*")), "results belong in bench/results/"
    for path in results.iterdir():
        if path.name == "README.md":
            continue
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.(md|json|png)", path.name), path.name
        page = path.with_suffix(".md")
        assert page.exists(), f"{path.name} has no page {page.name}"
        title = page.read_text().split("\n", 1)[0]
        assert re.match(r"# .*\(\d{4}-\d{2}-\d{2}", title), f"{page.name}: undated title {title!r}"
        listing = (results / "README.md").read_text()
        assert f"]({page.name})" in listing, f"bench/results/README.md does not list {page.name}"

