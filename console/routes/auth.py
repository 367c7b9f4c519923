"""Log in, log out, choose the language."""

from __future__ import annotations

import time

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, redirect

from console import security
from console.i18n import COOKIE as LANG_COOKIE
from console.i18n import LANGUAGES
from console.repository import add_audit
from console.settings import ConsoleSettings
from console.web import (
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    delete_cookie,
    local_path,
    render,
    session_of,
    set_cookie,
)

YEAR = 365 * 24 * 3600


def build() -> Blueprint:
    """Login, logout and the language switch."""
    bp = Blueprint("auth")
    bp.add_route(login_page, "/login", methods=["GET"])
    bp.add_route(login, "/login", methods=["POST"])
    bp.add_route(logout, "/logout", methods=["POST"])
    bp.add_route(choose_language, "/lang/<code:str>", methods=["GET"])
    return bp


async def login_page(request: Request) -> HTTPResponse:
    """The login form; a signed-in user goes straight to ``next``."""
    if session_of(request) is not None:
        return redirect(local_path(request.args.get("next")))
    return render(request, "login.html", next=local_path(request.args.get("next")))


async def login(request: Request) -> HTTPResponse:
    """Check the password with lockout, start a fresh session, and audit it."""
    settings: ConsoleSettings = request.app.ctx.settings
    username = (request.form.get("username") or "")[:64]
    password = (request.form.get("password") or "")[:1024]
    target = local_path(request.form.get("next"))
    now = time.time()
    old = session_of(request)

    def work(connection):  # type: ignore[no-untyped-def]
        if old is not None:
            security.close_session(connection, old.token_hash)
        result = security.authenticate(
            connection,
            username,
            password,
            settings.lockout_failures,
            settings.lockout_seconds,
            now,
        )
        if result.staff is None:
            add_audit(
                connection,
                security.normalize_username(username) or "?",
                "login_locked" if result.locked else "login_failed",
                now=now,
            )
            return result, None
        token = security.open_session(connection, result.staff, now)
        add_audit(connection, result.staff.username, "login", now=now)
        return result, token

    result, token = await request.app.ctx.db.run(work)
    if token is None:
        message = "login_locked" if result.locked else "login_failed"
        return render(
            request,
            "login.html",
            status=401,
            error=message,
            next=target,
            username=username,
        )
    response = redirect(target)
    # a fresh session id at every login: a planted cookie never becomes valid
    set_cookie(request, response, SESSION_COOKIE, token)
    delete_cookie(request, response, PRELOGIN_COOKIE)
    return response


async def logout(request: Request) -> HTTPResponse:
    """End the session server-side, not only the cookie, and audit it."""
    session = session_of(request)
    if session is not None:

        def work(connection):  # type: ignore[no-untyped-def]
            security.close_session(connection, session.token_hash)
            add_audit(connection, session.staff.username, "logout")

        await request.app.ctx.db.run(work)
    response = redirect("/login")
    delete_cookie(request, response, SESSION_COOKIE)
    return response


async def choose_language(request: Request, code: str) -> HTTPResponse:
    """Remember the chosen UI language in a cookie, then return to the page."""
    response = redirect(local_path(request.args.get("next")))
    if code in LANGUAGES:
        set_cookie(request, response, LANG_COOKIE, code, max_age=YEAR)
    return response
