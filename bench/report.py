"""docs/benchmarks.md: each benchmark replaces its own dated section between markers.

BENCH_RECORD=0 leaves the file alone (every benchmark prints its figures either way).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

REPORT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def recording() -> bool:
    """False with BENCH_RECORD=0: a quick or trial run prints only."""
    return os.environ.get("BENCH_RECORD", "1") != "0"


def record(name: str, title: str, lines: list[str]) -> None:
    """Replace (or append) the section `<!-- name -->` … `<!-- /name -->`, titled and dated
    (nothing with BENCH_RECORD=0)."""
    if not recording():
        return
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
