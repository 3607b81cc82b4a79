"""Every relative link and file path named in README.md and docs/*.md points at something that exists.

Checked:
- markdown links and images ``[text](path)`` / ``![alt](path)``, reference definitions ``[id]: path``
  and HTML ``src=``/``href=`` attributes, resolved relative to the file that contains them (external
  URLs, mailto: and pure #anchors are skipped; a #fragment is stripped);
- inline-code file paths such as ``trtmatte/runtime/cuda.py`` or ``docs/results.md``: a backticked
  token with a ``/`` whose first component is a top-level source entry of the repository, resolved
  relative to the repository root (globs, placeholders and command lines are skipped).
Also: no document points outside the repository (``../shared``), and README.md stays short.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 160

# Top-level names that are build outputs or local state, never documented source paths
# (e.g. `build/lib/libtrtmatte_plugins.so` names what CMake writes, not a file in the repository).
GENERATED_ROOTS = {"build", "dist", ".venv", ".git", ".benchmarks", ".pytest_cache", "__pycache__", "out"}
# Source roots checked even when missing, so a renamed or deleted folder is reported, not skipped.
SOURCE_ROOTS = {"trtmatte", "tests", "benchmarks", "docs", "plugins", "calibration", ".ci"}

FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
MD_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]+(?:\([^()\s]*\)[^()\s]*)*)(?:\s+[\"'(].*?)?\s*\)",
                     re.S)
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(\S+)", re.M)
HTML_ATTR = re.compile(r"""<[a-zA-Z][^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""")
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")  # http:, https:, mailto:, //host, #anchor


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def top_level_roots() -> set[str]:
    present = {p.name for p in REPO.iterdir()
               if p.name not in GENERATED_ROOTS and not p.name.endswith(".egg-info")}
    return present | SOURCE_ROOTS


def line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def blank(match: re.Match) -> str:
    """Replace a match by spaces, keeping newlines so line numbers stay right."""
    return re.sub(r"[^\n]", " ", match.group(0))


def link_targets(text: str) -> list[tuple[int, str]]:
    """(line, target) of every markdown/HTML link outside code."""
    prose = CODE_SPAN.sub(blank, FENCE.sub(blank, text))
    found = []
    for pattern in (MD_LINK, REF_DEF, HTML_ATTR):
        for m in pattern.finditer(prose):
            target = m.group(1).strip("<>")
            found.append((line_of(prose, m.start(1)), target))
    return found


def code_paths(text: str, roots: set[str]) -> list[tuple[int, str]]:
    """(line, path) of every inline-code token that looks like a repository-relative path."""
    outside_fences = FENCE.sub(blank, text)
    found = []
    for m in CODE_SPAN.finditer(outside_fences):
        token = m.group(2).strip()
        if (not token or "/" not in token or re.search(r"\s", token) or "://" in token
                or any(c in token for c in "*<>{}$") or "..." in token or "…" in token):
            continue
        token = token.removeprefix("./")
        first = token.split("/", 1)[0]
        if first in roots:
            found.append((line_of(outside_fences, m.start(2)), token))
    return found


def broken_paths() -> list[str]:
    roots = top_level_roots()
    broken = []
    for doc in documents():
        text = doc.read_text(encoding="utf-8")
        name = doc.relative_to(REPO)
        for line, target in link_targets(text):
            if EXTERNAL.match(target):
                continue
            path = target.split("#", 1)[0].split("?", 1)[0]
            if path and not (doc.parent / path).exists():
                broken.append(f"{name}:{line}: link ({target}) -> {(doc.parent / path).resolve()} does not exist")
        for line, token in code_paths(text, roots):
            path = token.split("#", 1)[0]
            if not (REPO / path).exists():
                broken.append(f"{name}:{line}: path `{token}` does not exist in the repository")
    return broken


def test_documents_exist():
    assert (REPO / "README.md").is_file()
    assert len(documents()) > 1, "docs/*.md is empty: the README links into docs/"


def test_every_relative_link_and_path_resolves():
    broken = broken_paths()
    assert not broken, f"{len(broken)} broken link(s)/path(s) in README.md and docs/*.md:\n" + "\n".join(broken)


def test_no_document_points_outside_the_repository():
    offenders = [f"{doc.relative_to(REPO)}:{i}: {line.strip()}"
                 for doc in documents()
                 for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
                 if "../shared" in line]
    assert not offenders, "documents point at ../shared (outside this repository):\n" + "\n".join(offenders)


def test_readme_is_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (f"README.md has {lines} lines (at most {README_MAX_LINES}): "
                                       "move the detail into docs/ and link it")


@pytest.mark.parametrize("text, expected", [
    ("see [a](docs/x.md#part) and ![b](img.png \"t\") and [c](https://e.org) [d](#top)",
     ["docs/x.md#part", "img.png", "https://e.org", "#top"]),
    ("```\n[not](a link)\n```\n`[nor](this)` [yes](y.md)", ["y.md"]),
    ("[ref]: docs/ref.md\n<img src=\"docs/p.png\">", ["docs/ref.md", "docs/p.png"]),
])
def test_link_extraction(text, expected):
    assert sorted(t for _, t in link_targets(text)) == sorted(expected)


def test_code_path_extraction():
    text = ("`trtmatte/runtime/cuda.py` `tests/<sub>/test_*.py` `trtmatte build x.onnx -o y/z` "
            "`run/model.safetensors` `docs/` `./plugins/README.md` `trtmatte.engine.loader` "
            "`benchmarks/results/{a,b}.json` `trtmatte/...`\n```\n`docs/in_fence.md`\n```")
    assert [t for _, t in code_paths(text, {"trtmatte", "docs", "plugins", "tests", "benchmarks"})] == [
        "trtmatte/runtime/cuda.py", "docs/", "plugins/README.md"]
