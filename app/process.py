"""What a long-lived process (the web app, the reminder worker) does once it has started."""

import gc


def freeze_startup_objects() -> None:
    """Move what importing and building the process made (modules, classes, SQLAlchemy's
    mappers, compiled templates: hundreds of thousands of objects that live as long as the
    process) out of the garbage collector's sight. Each full collection otherwise walks them all
    again, and a request that reads many rows (a patient list of 1,000) set one off: measured in
    process, the list's page went 71 → 57 ms (issue 14, docs/benchmarks.md). Once per process:
    later calls would also freeze whatever garbage exists by then (tests start the app many
    times)."""
    if gc.get_freeze_count() == 0:
        gc.collect()  # what startup already threw away is freed, not frozen
        gc.freeze()
