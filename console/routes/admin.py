"""Admin pages: the audit log, staff accounts, retention."""

from __future__ import annotations

import asyncio
from typing import Any, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect
from sqlalchemy import select
from sqlalchemy.engine import Connection

from console import repository as repo
from console import security
from console.models import ROLES, staff
from console.retention import run_retention
from console.web import admin_required, current_staff, render


def build() -> Blueprint:
    """Admin-only routes: audit log, staff accounts and retention."""
    bp = Blueprint("admin", url_prefix="/admin")
    bp.add_route(audit, "/audit", methods=["GET"])
    bp.add_route(staff_page, "/staff", methods=["GET"])
    bp.add_route(save_staff, "/staff", methods=["POST"])
    bp.add_route(retention_page, "/retention", methods=["GET"])
    bp.add_route(save_retention, "/retention", methods=["POST"])
    bp.add_route(run_retention_now, "/retention/run", methods=["POST"])
    return bp


@admin_required
async def audit(request: Request) -> HTTPResponse:
    """The audit log, filtered by staff, action and sender."""
    who = (request.args.get("staff") or "").strip()[:64]
    action = (request.args.get("action") or "").strip()[:32]
    sender = (request.args.get("sender") or "").strip()[:255]
    try:
        before = int(request.args.get("before") or 0) or None
    except ValueError:
        before = None
    rows = await request.app.ctx.db.run(
        lambda c: repo.audit_entries(c, who, action, sender, before)
    )
    return render(
        request,
        "audit.html",
        rows=rows,
        filters={"staff": who, "action": action, "sender": sender},
    )


def _staff_rows(connection: Connection) -> List[Any]:
    return list(connection.execute(select(staff).order_by(staff.c.username)))


@admin_required
async def staff_page(
    request: Request, error: str = "", status: int = 200
) -> HTTPResponse:
    """The staff list with the add/reset form."""
    rows = await request.app.ctx.db.run(_staff_rows)
    return render(
        request, "staff.html", rows=rows, roles=ROLES, error=error, status=status
    )


@admin_required
async def save_staff(request: Request) -> HTTPResponse:
    """Add a staff member or reset a password, and audit it."""
    username = request.form.get("username") or ""
    password = request.form.get("password") or ""
    role = request.form.get("role") or "reviewer"
    admin = current_staff(request).username

    def work(connection: Connection) -> str:
        try:
            member = security.create_staff(connection, username, password, role)
        except security.StaffError as exc:
            return str(exc)
        repo.add_audit(
            connection,
            admin,
            "save_staff",
            None,
            {"user": member.username, "role": role},
        )
        return ""

    error = await request.app.ctx.db.run(work)
    if error:
        rows = await request.app.ctx.db.run(_staff_rows)
        return render(
            request, "staff.html", rows=rows, roles=ROLES, error=error, status=400
        )
    return redirect("/admin/staff")


@admin_required
async def retention_page(request: Request) -> HTTPResponse:
    """The retention setting and the button to apply it now."""
    days = await request.app.ctx.db.run(repo.retention_days)
    return render(request, "retention.html", days=days, result=None)


def _days(request: Request) -> int:
    try:
        value = int(request.form.get("days") or "")
    except ValueError:
        return -1
    return value if 1 <= value <= 36500 else -1


@admin_required
async def save_retention(request: Request) -> HTTPResponse:
    """Save the retention period, and audit it."""
    days = _days(request)
    if days < 0:
        return render(request, "error.html", status=400, message="bad_request")
    admin = current_staff(request).username

    def work(connection: Connection) -> None:
        repo.set_retention_days(connection, days)
        repo.add_audit(connection, admin, "set_retention", None, {"days": days})

    await request.app.ctx.db.run(work)
    return redirect("/admin/retention")


@admin_required
async def run_retention_now(request: Request) -> HTTPResponse:
    """Delete expired conversations now, off the event loop, and audit it."""
    db = request.app.ctx.db
    days = await db.run(repo.retention_days)
    if days is None:
        return render(request, "error.html", status=400, message="bad_request")
    admin = current_staff(request).username
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(
        None, lambda: run_retention(db, request.app.ctx.source, days, admin)
    )
    return render(request, "retention.html", days=days, result=result)
