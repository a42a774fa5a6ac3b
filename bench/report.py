"""docs/benchmarks.md: each benchmark replaces its own dated section between markers."""

from datetime import UTC, datetime
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def record(name: str, title: str, lines: list[str]) -> None:
    """Replace (or append) the section `<!-- name -->` … `<!-- /name -->`, titled and dated."""
    text = REPORT.read_text() if REPORT.exists() else "# Benchmarks\n\nMade by `make bench`.\n"
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    section = f"{start}\n### {title} ({datetime.now(UTC):%Y-%m-%d})\n\n" + "\n".join(lines) \
        + f"\n{end}"
    if start in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    REPORT.write_text(text)
