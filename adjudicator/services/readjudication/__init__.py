"""Batch re-adjudication: replay history under today's terms and facts, as a job.

- jobs.py: create, read and run a job (the use cases below are its own);
- apply.py: load a chunk for replay, count it, and apply it;
- parallel_dry_run.py: a large dry run's helper processes, one per core.
"""

from adjudicator.services.readjudication.jobs import (
    RunResult,
    changes,
    create,
    get,
    recent,
    run,
    view,
)

__all__ = ["RunResult", "changes", "create", "get", "recent", "run", "view"]
