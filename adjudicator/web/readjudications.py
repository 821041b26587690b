"""Batch re-adjudication (admin): start a job, follow it, read the claims it changed."""

from __future__ import annotations

from collections.abc import Callable

from flask_smorest import Blueprint

from adjudicator.services import readjudication
from adjudicator.web.auth import principal, require
from adjudicator.web.body import load_json, load_query
from adjudicator.web.docs import BEARER, json_body, query_params
from adjudicator.web.runtime import runtime
from schemas.readjudications import (
    ChangesPageSchema,
    ChangesQuerySchema,
    JobListQuerySchema,
    JobListSchema,
    JobSchema,
    ReadjudicationRequestSchema,
)

blp = Blueprint(
    "readjudications", __name__, description="Re-run history under today's terms and facts"
)


@blp.route("/readjudications", methods=["POST"])
@require("admin")
@blp.doc(security=BEARER, **json_body(ReadjudicationRequestSchema))
@blp.alt_response(202, schema=JobSchema, success=True, description="Queued")
def start_job():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Queue a re-adjudication of a date-of-service window (`dry_run` or `apply`)."""
    body = load_json(ReadjudicationRequestSchema())
    rt = runtime()
    job = readjudication.create(rt, body, principal().actor)
    job_sender()(job["job_id"])
    answer = {"job_id": job["job_id"], "status": "queued", "links": job["links"]}
    return answer, 202, {"Location": job["links"]["self"]}


@blp.route("/readjudications", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER, **query_params(JobListQuerySchema))
@blp.alt_response(200, schema=JobListSchema, success=True)
def list_jobs():  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """The latest jobs, newest first."""
    query = load_query(JobListQuerySchema())
    return JobListSchema().dump({"items": readjudication.recent(runtime(), query["limit"])})


@blp.route("/readjudications/<job_id>", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER)
@blp.alt_response(200, schema=JobSchema, success=True)
def get_job(job_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """A job's status, progress and summary (`delta` is signed)."""
    return JobSchema().dump(readjudication.get(runtime(), job_id))


@blp.route("/readjudications/<job_id>/changes", methods=["GET"])
@require("admin")
@blp.doc(security=BEARER, **query_params(ChangesQuerySchema))
@blp.alt_response(200, schema=ChangesPageSchema, success=True)
def job_changes(job_id: str):  # type: ignore[no-untyped-def]  # view: dict, tuple or Response
    """Every claim whose status or program_paid the job changed: before and after."""
    query = load_query(ChangesQuerySchema())
    page = readjudication.changes(runtime(), job_id, query["cursor"], query["limit"])
    return ChangesPageSchema().dump(page)


def job_sender() -> Callable[[str], None]:
    """Sends a job id to the `batch` queue; shared by the API and the console."""
    return runtime().send_job
