"""The console's pages: sign-in, review queue, claim, member, enrollment forms, search."""

from __future__ import annotations

import logging
import math
import re
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException

from adjudicator.domain.outcomes import ClaimStatus
from adjudicator.services import (
    console_queries,
    enrollments,
    identity,
    login_throttle,
    program_report,
    readjudication,
    review,
)
from adjudicator.services.errors import Conflict, Invalid, NotFound, ServiceError
from adjudicator.web.console import charts, forms, program, session
from adjudicator.web.console.words import REVIEWABLE, money
from adjudicator.web.readjudications import job_sender as enqueue_job
from adjudicator.web.runtime import runtime
from schemas.fields import is_text

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[1] / "static" / "console"
bp = Blueprint(
    "console", __name__, url_prefix="/console", static_folder=STATIC, static_url_path="/static"
)

# No script, no inline style, nothing from elsewhere; never framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


@bp.before_request
def _csrf() -> None:
    session.check_csrf()


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if request.endpoint not in ("console.static", "console.chart_styles"):
        response.headers["Cache-Control"] = "no-store"  # pages carry PHI
    return response


@bp.app_context_processor
def _page_globals() -> dict[str, Any]:
    return {"csrf_token": session.csrf_token, "staff": session.current_staff}


# --- sign in and out ---------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_page = session.safe_next(request.values.get("next"))
    if request.method == "GET":
        if session.current_staff() is not None:
            return redirect(next_page or url_for("console.queue"))
        return render_template("console/login.html", next_page=next_page)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    rt, address = runtime(), request.remote_addr or "unknown"

    def refused(error: str) -> str:
        return render_template(
            "console/login.html", next_page=next_page, username=username, error=error
        )

    if wait := login_throttle.attempt(rt.redis, username, address):
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' * (minutes > 1)}."
        return refused(error), 429, {"Retry-After": str(wait)}
    # A name with a control character names nobody (and PostgreSQL cannot look one up).
    known = username and password and is_text(username)
    signed_in = identity.sign_in(rt.ledger, username, password) if known else None
    if signed_in is None or signed_in.principal.role not in identity.STAFF_ROLES:
        return refused("Wrong username or password."), 401
    login_throttle.succeeded(rt.redis, username, address)
    session.start(signed_in)
    return redirect(next_page or url_for("console.queue"))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.end()
    flash("You are signed out.", "info")
    return redirect(url_for("console.login"))


# --- the review queue ----------------------------------------------------------------


@bp.route("/", methods=["GET"])
@bp.route("/queue", methods=["GET"])
@session.staff_required
def queue() -> Any:
    rule = request.args.get("rule") or None
    errors: dict[str, list[str]] = {}
    if rule is not None and rule not in REVIEWABLE:
        errors["rule"] = ["Choose one of the listed rules."]
    date_from = _date_arg("date_from", errors)
    date_to = _date_arg("date_to", errors)
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = ["The end date must not be before the start date."]
    after = request.args.get("after", "")
    if after and not re.fullmatch(r"[0-9]{1,18}", after):
        errors["after"] = ["Not a page of this queue."]
    result: dict[str, Any] = {"items": [], "next_after": None}
    if not errors:
        result = console_queries.review_queue(
            runtime(),
            rule=rule,
            date_from=date_from,
            date_to=date_to,
            after=int(after) if after else None,
        )
    status = 422 if errors else 200
    filters = {"rule": rule or "", **{k: request.args.get(k, "") for k in ("date_from", "date_to")}}
    page = render_template(
        "console/queue.html",
        result=result,
        filters=filters,
        filter_args={k: v for k, v in filters.items() if v},  # for the pages' links
        errors=errors,
        paged=bool(after),
    )
    return page, status


def _signed_in() -> session.Staff:
    """Who signed in, on a page behind `staff_required`."""
    staff = session.current_staff()
    assert staff is not None
    return staff


def _date_arg(name: str, errors: dict[str, list[str]]) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = ["Enter a date as YYYY-MM-DD."]
        return None


# --- a claim -------------------------------------------------------------------------


@bp.route("/claims/<claim_id>", methods=["GET"])
@session.staff_required
def claim(claim_id: str) -> Any:
    return _claim_page(claim_id)


def _claim_page(claim_id: str, form: forms.FormResult | None = None, status: int = 200) -> Any:
    page = console_queries.claim_page(runtime(), claim_id)
    if page is None:
        abort(404, "No claim has this id.")
    return render_template("console/claim.html", page=page, form=form), status


@bp.route("/claims/<claim_id>/review", methods=["POST"])
@session.staff_required
def review_claim(claim_id: str) -> Any:
    form = forms.review_form(request.form)
    if not form.ok:
        return _claim_page(claim_id, form, 422)
    assert form.data is not None
    staff = _signed_in()
    try:
        # The same actor the JSON review endpoint records: the user's name.
        row = review.review(
            runtime(), claim_id, form.data["action"], form.data["note"], staff.username
        )
    except NotFound:
        abort(404, "No claim has this id.")
    except Conflict as error:
        form.errors = {forms.FORM_ERRORS: [f"This claim cannot be reviewed now: {error.detail}."]}
        return _claim_page(claim_id, form, 409)
    verb = "Approved" if form.data["action"] == "approve" else "Denied"
    outcome = f"now {row.status}"
    if row.status == ClaimStatus.PAID:
        outcome += f", program paid {money(row.program_paid)}"
    flash(f"{verb}: the claim is {outcome}.", "success")
    return redirect(url_for("console.claim", claim_id=claim_id))


# --- a member and enrollments ------------------------------------------------------------


@bp.route("/members/<cardholder_id>", methods=["GET"])
@session.staff_required
def member(cardholder_id: str) -> Any:
    page = console_queries.member_page(runtime(), cardholder_id)
    if page is None:
        abort(404, "No member has this cardholder id.")
    return render_template("console/member.html", page=page)


@bp.route("/enroll", methods=["GET", "POST"])
@session.staff_required
def enroll() -> Any:
    if request.method == "GET":
        values = {
            "cardholder_id": request.args.get("cardholder_id", ""),
            "patient.address.country": "US",
            "coverage.type": "commercial",
            "coverage.covers_product": True,
        }
        return render_template("console/enroll.html", values=values, errors={})
    form = forms.enrollment_form(request.form)
    if form.ok:
        assert form.data is not None
        staff = _signed_in()
        try:
            view = enrollments.enroll(runtime(), form.data, staff.principal.actor)
        except Invalid as error:
            form.errors = error.errors
        except Conflict as error:
            form.errors = {forms.FORM_ERRORS: [error.detail[:1].upper() + error.detail[1:] + "."]}
        else:
            flash(_enrolled_message(view), "success")
            return redirect(url_for("console.member", cardholder_id=view["cardholder_id"]))
    page = render_template("console/enroll.html", values=form.values, errors=form.errors)
    return page, 422


def _enrolled_message(view: dict[str, Any]) -> str:
    period = view["benefit_period"]
    text = f"Enrolled for {period['start']} to {period['end']}: {view['status']}"
    if view["reasons"]:
        text += " (" + "; ".join(r["message"] for r in view["reasons"]) + ")"
    return text + "."


@bp.route("/enrollments/<enrollment_id>/edit", methods=["GET", "POST"])
@session.staff_required
def edit_enrollment(enrollment_id: str) -> Any:
    current = console_queries.enrollment(runtime(), enrollment_id)
    if current is None:
        abort(404, "No enrollment has this id.")
    if request.method == "GET":
        values = forms.values_of_enrollment(current)
        return render_template("console/edit.html", year=current, values=values, errors={})
    form = forms.enrollment_edit_form(request.form)
    if form.ok:
        assert form.data is not None
        staff = _signed_in()
        view = enrollments.update(runtime(), enrollment_id, form.data, staff.principal.actor)
        flash(
            f"Saved. The year {view['benefit_period']['start']} to "
            f"{view['benefit_period']['end']} is {view['status']}.",
            "success",
        )
        return redirect(url_for("console.member", cardholder_id=view["cardholder_id"]))
    page = render_template(
        "console/edit.html", year=current, values=form.values, errors=form.errors
    )
    return page, 422


# --- batch re-adjudication (admins) ------------------------------------------------------

JOBS_SHOWN = 20
CHANGES_PER_PAGE = 50
REFRESH_SECONDS = 3  # while a job is queued or running: live progress without script


def _admin_only() -> None:
    staff = session.current_staff()
    if staff is None or staff.role != "admin":
        abort(403, "Only admins may re-adjudicate claims.")


def _live(*jobs: dict[str, Any]) -> int | None:
    return REFRESH_SECONDS if any(j["status"] in ("queued", "running") for j in jobs) else None


@bp.route("/readjudications", methods=["GET"])
@session.staff_required
def readjudications() -> Any:
    _admin_only()
    jobs = readjudication.recent(runtime(), JOBS_SHOWN)
    return render_template("console/readjudications.html", jobs=jobs, refresh=_live(*jobs))


@bp.route("/readjudications/new", methods=["GET", "POST"])
@session.staff_required
def start_readjudication() -> Any:
    """The start form has a page of its own: the list's live refresh would wipe its inputs."""
    _admin_only()
    if request.method == "GET":
        values = {"mode": "dry_run", "cardholder_id": request.args.get("cardholder_id", "")}
        return render_template("console/readjudication_new.html", values=values, errors={})
    form = forms.readjudication_form(request.form)
    if form.ok:
        assert form.data is not None
        staff = _signed_in()
        # As POST /v1/readjudications does: create the job, then send it to the batch queue.
        job = readjudication.create(runtime(), form.data, staff.principal.actor)
        enqueue_job()(job["job_id"])
        flash("The job is queued. This page shows its progress as it runs.", "success")
        return redirect(url_for("console.readjudication_job", job_id=job["job_id"]))
    page = render_template(
        "console/readjudication_new.html", values=form.values, errors=form.errors
    )
    return page, 422


@bp.route("/readjudications/<job_id>", methods=["GET"])
@session.staff_required
def readjudication_job(job_id: str) -> Any:
    _admin_only()
    rt = runtime()
    job = readjudication.get(rt, job_id)
    cursor = request.args.get("cursor") or None
    changes = readjudication.changes(rt, job_id, cursor, CHANGES_PER_PAGE)
    page = render_template(
        "console/readjudication.html",
        job=job,
        changes=changes,
        cursor=cursor,
        refresh=_live(job),
    )
    return page


# --- the program, a year at a time -------------------------------------------------------

FIRST_YEAR = 2000  # before any terms of the program


def _year_arg() -> int:
    """`?year=`: the current year when absent; a bad one is a 400 saying what to type."""
    this_year = date.today().year
    raw = request.args.get("year", "").strip()
    if not raw:
        return this_year
    if not re.fullmatch(r"[0-9]{4}", raw) or not FIRST_YEAR <= int(raw) <= this_year + 1:
        abort(400, f"Enter the year as four digits, from {FIRST_YEAR} to {this_year + 1}.")
    return int(raw)


@bp.route("/program", methods=["GET"])
@session.staff_required
def program_page() -> Any:
    year = _year_arg()
    report = program_report.report(runtime(), year)
    return render_template(
        "console/program.html",
        report=report,
        charts=program.charts_of(report),
        years={"previous": year - 1 if year > FIRST_YEAR else None, "next": year + 1},
        this_year=date.today().year,
    )


@bp.route("/charts.css", methods=["GET"])
def chart_styles() -> Any:
    """The charts' styles: the CSP takes styles from this server's files, not inline."""
    response = make_response(charts.stylesheet())
    response.mimetype = "text/css"
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# --- search --------------------------------------------------------------------------------


@bp.route("/search", methods=["GET"])
@session.staff_required
def search() -> Any:
    text = request.args.get("q", "").strip()[:100]
    found: dict[str, Any] = {"kind": "none", "claims": []}
    if text and is_text(text):  # with a control character it names nothing: no id holds one
        found = console_queries.search(runtime(), text)
    if found["kind"] == "claim":
        return redirect(url_for("console.claim", claim_id=found["claim_id"]))
    if found["kind"] == "member":
        return redirect(url_for("console.member", cardholder_id=found["cardholder_id"]))
    if found["kind"] == "rx" and len(found["claims"]) == 1:
        return redirect(url_for("console.claim", claim_id=found["claims"][0]["claim_id"]))
    status = 200 if found["claims"] or not text else 404
    return render_template("console/search.html", text=text, found=found), status


# --- errors, as pages ----------------------------------------------------------------------


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    page = render_template(
        "console/error.html", status=status, title=error.name, detail=error.description
    )
    response = make_response(page, status)
    if status == 405 and error.get_response().headers.get("Allow"):
        response.headers["Allow"] = error.get_response().headers["Allow"]
    return response


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> Any:
    page = render_template(
        "console/error.html", status=error.status, title=error.title, detail=error.detail
    )
    return page, error.status


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Any:
    # The type and trace only: exception text may quote what a user typed (PHI).
    log.error("console: unhandled %s", type(error).__name__, exc_info=error)
    page = render_template(
        "console/error.html",
        status=500,
        title="Something went wrong",
        detail="The page could not be shown. Try again; if it keeps failing, tell the admins.",
    )
    return page, 500
