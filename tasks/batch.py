"""The `batch` queue: re-adjudication jobs, idempotent by job id (acks_late)."""

from __future__ import annotations

from celery import shared_task

from adjudicator.services import readjudication
from tasks.celery_app import READJUDICATE
from tasks.claims import runtime


@shared_task(
    name=READJUDICATE,
    bind=True,
    acks_late=True,
    max_retries=None,
)
def readjudicate(self, job_id: str) -> str:  # type: ignore[no-untyped-def]  # self: Celery's Task
    """Run or resume the job; while another worker holds it, come back when its lease ends."""
    result = readjudication.run(runtime(), job_id)
    if result.status == "busy":
        raise self.retry(countdown=result.retry_in)
    return result.status
