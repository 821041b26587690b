"""Batch re-adjudication: replay history under today's terms and facts, as a job.

- jobs.py: create, read and run a job (the use cases below are its own);
- load.py: read a chunk of cardholders and replay it (the replay is domain/replay.py);
- tally.py: what a chunk adds to its job (counts, changed claims) and recording it;
- apply.py: write an apply's new decisions and set the accumulators;
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
