"""What every page handler shares: rendering, cookies, the staff guards."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Dict, Optional
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Request
from sanic.exceptions import SanicException
from sanic.response import BaseHTTPResponse, HTTPResponse, html, redirect

from console.i18n import COOKIE as LANG_COOKIE
from console.i18n import DEFAULT_LANGUAGE, LANGUAGES, translator
from console.security import SessionInfo, StaffMember
from console.transcript import format_time

TEMPLATES = Path(__file__).resolve().parent / "templates"
SESSION_COOKIE = "console_session"
PRELOGIN_COOKIE = "console_prelogin"
Handler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


class Forbidden(SanicException):
    """A 403 rendered as the console's error page."""

    status_code = 403


def make_environment() -> Environment:
    """The template environment, autoescaping HTML, with the console's filters."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = lambda ts: format_time(ts) if ts else ""
    env.filters["duration"] = format_duration
    env.filters["pct"] = lambda v: "—" if v is None else f"{v * 100:.1f}%"
    env.globals["urlencode"] = urlencode
    return env


def format_duration(seconds: Optional[float]) -> str:
    """A short human duration (``3m05s``, ``1h02m``), ``—`` when unknown."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def language_of(request: Request) -> str:
    """The UI language from its cookie, or the default."""
    value = request.cookies.get(LANG_COOKIE, "")
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def is_https(request: Request) -> bool:
    """Whether cookies can be marked ``Secure``."""
    return request.scheme in ("https", "wss")


def set_cookie(
    request: Request,
    response: BaseHTTPResponse,
    name: str,
    value: str,
    max_age: Optional[int] = None,
    http_only: bool = True,
) -> None:
    """Set a cookie with the console's safe defaults (SameSite, HttpOnly, Secure on
    HTTPS)."""
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = "/"
    cookie["httponly"] = http_only
    cookie["samesite"] = "Lax"
    if is_https(request):
        cookie["secure"] = True
    if max_age is not None:
        cookie["max-age"] = max_age


def delete_cookie(request: Request, response: HTTPResponse, name: str) -> None:
    """Expire a cookie with the same attributes it was set with."""
    set_cookie(request, response, name, "", max_age=0)


def session_of(request: Request) -> Optional[SessionInfo]:
    """The session the middleware attached, or ``None`` when signed out."""
    return getattr(request.ctx, "session", None)


def current_staff(request: Request) -> StaffMember:
    """The signed-in member, for routes behind ``staff_required``."""
    session = session_of(request)
    assert session is not None
    return session.staff


def render(
    request: Request, template: str, status: int = 200, **context: Any
) -> HTTPResponse:
    """Render a template with the language, session and CSRF token every page needs."""
    env: Environment = request.app.ctx.templates
    language = language_of(request)
    session = session_of(request)
    base: Dict[str, Any] = {
        "t": translator(language),
        "lang": language,
        "staff": session.staff if session else None,
        "csrf_token": getattr(request.ctx, "csrf_token", "")
        or (session.csrf_token if session else ""),
        "path": request.path,
        "query_string": request.query_string,
        "now": time.time(),
    }
    body = env.get_template(template).render(**base, **context)
    return html(body, status=status)


def local_path(target: Optional[str], default: str = "/") -> str:
    """``target`` if it is a path on this site (no open redirects), else ``default``."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or "\n" in target or "\r" in target:
        return default
    return target


def staff_required(handler: Handler) -> Handler:
    """Logged-out requests go to the login page (GET) or get 401 (others)."""

    @functools.wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if session_of(request) is None:
            if request.method == "GET":
                target = request.path + (
                    f"?{request.query_string}" if request.query_string else ""
                )
                return redirect("/login?" + urlencode({"next": target}))
            return render(request, "error.html", status=401, message="login")
        return await handler(request, *args, **kwargs)

    return wrapped


def admin_required(handler: Handler) -> Handler:
    """Staff who are not admins get 403."""

    @staff_required
    @functools.wraps(handler)
    async def wrapped(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if not current_staff(request).is_admin:
            return render(request, "error.html", status=403, message="forbidden")
        return await handler(request, *args, **kwargs)

    return wrapped
