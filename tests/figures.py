"""Security figures that tests measure while they run (matrix cases, leaks, fuzz cases, kill
cycles …), gathered by `make security-report` into docs/security.md.

A test calls `add("access matrix cases", n)`; the numbers accumulate across the run and are
written as JSON to $SECURITY_FIGURES when the run ends (tests/conftest.py). Without that
variable nothing is written, so ordinary runs are unaffected.
"""

import json
import os
from collections import defaultdict
from pathlib import Path

_figures: dict[str, float] = defaultdict(float)


def add(name: str, value: float = 1) -> None:
    _figures[name] += value


def write() -> None:
    target = os.environ.get("SECURITY_FIGURES")
    if not target or not _figures:
        return
    path = Path(target)
    existing = json.loads(path.read_text()) if path.exists() else {}
    for name, value in _figures.items():
        existing[name] = existing.get(name, 0) + value
    path.write_text(json.dumps(existing, indent=2, sort_keys=True))
