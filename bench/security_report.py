"""`make security-report`: run the security tests, print their figures, record docs/security.md.

Runs every test file that measures a figure (any file under tests/ that calls
`figures.add(`, plus tests/security and tests/audit, and tests marked `security_figures`) with
SECURITY_FULL=1 (the fuzzing runs many more examples) and SECURITY_FIGURES pointing at a
temporary JSON file that tests/conftest.py fills when the run ends. On SQLite always, and on
PostgreSQL as well when TEST_DATABASE_URL is set. Figures are measured, never asserted here:
the tests themselves fail on a leak, a failure or a lost row, and the report says whether they
passed.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "security.md"
START, END = "<!-- security-figures -->", "<!-- /security-figures -->"
# The figures first, in its order; anything else the tests measure follows.
ORDER = [
    "access matrix routes",
    "access matrix cases",
    "access matrix leaks",
    "schemathesis cases",
    "schemathesis failures",
    "hostile inputs tried",
    "log canary hits",
    "kill cycles",
    "acknowledged writes",
    "acknowledged rows lost",
    "duplicates after replay",
]


def test_files() -> list[str]:
    tests = ROOT / "tests"
    chosen = set()
    for folder in ("security", "audit"):
        if (tests / folder).is_dir():
            chosen.add(f"tests/{folder}")
    for path in tests.rglob("test_*.py"):
        if "browser" in path.parts or path.parent.name in ("security", "audit"):
            continue
        source = path.read_text(errors="replace")
        if "figures.add(" in source or "security_figures" in source:
            chosen.add(str(path.relative_to(ROOT)))
    return sorted(chosen)


def run(database_url: str | None) -> tuple[dict[str, float], str]:
    with tempfile.TemporaryDirectory(prefix="trochelog-security-") as tmp:
        target = Path(tmp) / "figures.json"
        env = {**os.environ, "SECURITY_FIGURES": str(target), "SECURITY_FULL": "1"}
        env.pop("TEST_DATABASE_URL", None)
        if database_url:
            env["TEST_DATABASE_URL"] = database_url
        command = [sys.executable, "-m", "pytest", "-q", *test_files()]
        print("$", " ".join(command[2:]), "(PostgreSQL)" if database_url else "(SQLite)",
              flush=True)
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603
        lines = done.stdout.strip().splitlines()
        summary = next((line.strip("= ") for line in reversed(lines)
                        if re.search(r"\d+ (passed|failed|error)", line)), "no summary")
        if done.returncode != 0:
            print("\n".join(lines[-60:]))
        figures = json.loads(target.read_text()) if target.exists() else {}
        return figures, summary


def commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,  # noqa: S607
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,  # noqa: S607
                               capture_output=True, text=True).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def table(results: dict[str, tuple[dict[str, float], str]]) -> str:
    names = [n for n in ORDER if any(n in f for f, _ in results.values())]
    names += sorted({n for f, _ in results.values() for n in f} - set(names))
    sqlite, _ = results["SQLite"]
    postgres, _ = results.get("PostgreSQL", ({}, ""))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        START,
        f"Measured {when} at commit {commit()} by `make security-report`.",
        "",
        "| figure | SQLite | PostgreSQL |",
        "| --- | ---: | ---: |",
        *(f"| {n} | {_number(sqlite.get(n))} | "
          f"{_number(postgres.get(n)) if 'PostgreSQL' in results else 'not run'} |"
          for n in names),
        "",
        *(f"- Tests on {db}: {summary}" for db, (_, summary) in results.items()),
        END,
    ]
    return "\n".join(rows)


def write(section: str) -> None:
    text = DOC.read_text() if DOC.exists() else "# Security\n\n" + START + "\n" + END + "\n"
    if START not in text:
        text = text.rstrip() + "\n\n## Figures\n\n" + START + "\n" + END + "\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(head + section + tail)


def main() -> int:
    results = {"SQLite": run(None)}
    postgres = os.environ.get("TEST_DATABASE_URL")
    if postgres:
        results["PostgreSQL"] = run(postgres)
    section = table(results)
    print()
    print(section.replace(START, "").replace(END, "").strip())
    write(section)
    print(f"\nwritten to {DOC.relative_to(ROOT)}")
    failed = any("failed" in summary or "error" in summary for _, summary in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
