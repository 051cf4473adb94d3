"""The project's own documents are in the project: every relative link in the README and the
docs resolves to a file in the repository, and code that points at a document names one that
exists."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DOC_IN_CODE = re.compile(r"\b((?:docs/)?[\w./-]+\.md)\b")


def tracked(pattern: str) -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [ROOT / line for line in out.split()]


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))] + [
        p for p in tracked("*.md") if p.parent.name == "vendor"
    ]


def test_every_relative_link_in_the_docs_resolves():
    broken = []
    for doc in documents():
        for target in LINK.findall(doc.read_text()):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # an absolute URL, mailto:, or an anchor in the same page
            path = (doc.parent / target.split("#")[0]).resolve()
            if not path.exists() or ROOT not in (path, *path.parents):
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, broken


def test_the_docs_never_send_a_reader_outside_the_repository():
    for doc in documents():
        text = doc.read_text()
        assert "../shared" not in text, doc
        assert "ARCHITECTURE.md" not in text and "CONVENTIONS.md" not in text, doc


def test_documents_named_in_code_exist():
    missing = []
    for source in tracked("*.py"):
        if ".venv" in source.parts or not source.exists() or source == Path(__file__):
            continue
        for name in DOC_IN_CODE.findall(source.read_text(errors="replace")):
            if not name.startswith("docs/") and name not in ("README.md",):
                if name.isupper() or name.split("/")[-1][0].isupper():
                    missing.append(f"{source.relative_to(ROOT)}: {name}")
                continue
            if not (ROOT / name).exists():
                missing.append(f"{source.relative_to(ROOT)}: {name}")
    assert not missing, missing


def test_the_readme_links_the_architecture():
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()
