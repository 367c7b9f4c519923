"""Start the scaled topology on one machine: nginx in front of N Rasa servers.

``python -m tools.scaled --replicas N --actions M`` (``make run-scaled``) starts,
each on its own loopback port and in parallel:

- N Rasa servers (REST, socket.io, WeChat) sharing one PostgreSQL tracker store,
- M action servers, reached by Rasa through an nginx upstream,
- the contribution backend as two processes on one PostgreSQL database,
  reached by the action servers through an nginx upstream,
- the demo page / widget server and the staff review console,
- nginx, with one public port for residents (REST, socket.io, WeChat, widget).

Every process gets ``SHEBAO_REDIS_URL``/``SHEBAO_REDIS_PREFIX`` and
``SHEBAO_EVENT_BROKER_URL``/``SHEBAO_EVENT_QUEUE`` (shared state, lock store
and event broker read them). The launcher creates its PostgreSQL databases
(``<prefix>_tracker``, ``<prefix>_backend``, ``<prefix>_console``) if missing.
It reuses :mod:`tools.devstack`'s ``Service``/``Stack``; nginx's configuration is
rendered from ``deploy/nginx/scaled.conf.j2`` into the run folder, and nginx
runs as the current user with everything under that folder.

With ``SHEBAO_ENV=production`` the launcher generates nothing: every secret
comes from the environment or a file (``<NAME>_FILE``), each process gets only
its own secrets (in its environment, never on its command line),
``BACKEND_MODE=production`` must be explicit, and a missing or weak secret
stops the launch before any process or database is touched.
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import jinja2

from common.deployment import is_development, secret_problem
from common.env import ConfigError, env_secret, env_str, secret_file_variable
from tools.devstack import (
    REPO_ROOT,
    Service,
    Stack,
    actions_service,
    backend_service,
    console_host,
    console_login,
    console_service,
    rasa_service,
    run_until_stopped,
    stack_env,
    web_service,
)
from tools.settings import ScaledSettings, StackSettings

TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "scaled.conf.j2"
# Debian's package installs it here; /usr/sbin is often not on a user's PATH.
NGINX_FALLBACK = "/usr/sbin/nginx"
ROLES = ("tracker", "backend", "console")

# The secrets each kind of process needs, and whether it can read the secret
# from <NAME>_FILE itself (common.env.env_secret). Where it cannot — Rasa
# expands endpoints.yml (${SHEBAO_ACTIONS_TOKEN}, ${SHEBAO_TRACKER_URL}) from its
# environment — the launcher passes the value in that process's environment. Connection URLs are here because they may carry a password.
SECRETS: Dict[str, Dict[str, bool]] = {
    "rasa": {
        "SHEBAO_SESSION_SECRET": True,
        "SHEBAO_REST_API_KEY": True,
        "WECHAT_TOKEN": True,
        "WECHAT_APP_SECRET": True,
        "WECHAT_ENCODING_AES_KEY": True,
        "SHEBAO_ACTIONS_TOKEN": False,
        "SHEBAO_TRACKER_URL": False,
        "SHEBAO_TRACKER_SENDER_KEY": True,
        "SHEBAO_REDIS_URL": True,
        "SHEBAO_REDIS_SECRET": True,
        "SHEBAO_EVENT_BROKER_URL": True,
    },
    "actions": {
        "SHEBAO_ACTIONS_TOKEN": True,
        "SHEBAO_BACKEND_CLIENT_SECRET": True,
        "SHEBAO_REDIS_URL": True,
        "SHEBAO_REDIS_SECRET": True,
    },
    "backend": {
        "BACKEND_SECRET": True,
        "BACKEND_ADMIN_TOKEN": True,
        "BACKEND_CLIENT_SECRET": True,
        "BACKEND_SMS_API_KEY": True,
        "DATABASE_URL": True,
    },
    "console": {
        "CONSOLE_SECRET": True,
        "CONSOLE_DATABASE_URL": True,
        "SHEBAO_TRACKER_URL": True,
        "SHEBAO_EVENT_BROKER_URL": True,
    },
    "web": {},
    "nginx": {},
}
SECRET_NAMES = sorted({name for names in SECRETS.values() for name in names})
# Secrets the launcher checks itself (the services check theirs again on start).
REQUIRED = ("SHEBAO_TRACKER_SENDER_KEY",)
# Development conveniences that must not reach a production process.
DEVELOPMENT_ONLY = ("RASA_AUTH_TOKEN",)


@dataclass
class ScaledStack(Stack):
    """The scaled topology: a :class:`Stack` whose URLs are nginx's listeners.

    ``rasa_url`` and ``web_url`` are the public port, ``actions_url`` and
    ``backend_url`` nginx's internal listeners; :meth:`replicas` lists the
    processes behind each upstream.
    """

    scaled: ScaledSettings = field(default_factory=ScaledSettings)
    database_urls: Dict[str, str] = field(default_factory=dict)
    created_databases: List[str] = field(default_factory=list)
    template_values: Dict[str, object] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        """nginx's public listener: REST, socket.io, WeChat and the widget."""
        return self.rasa_url

    @property
    def run_dir(self) -> Path:
        """The run folder (nginx's prefix, logs, its rendered configuration)."""
        return self.settings.var_dir.resolve()

    @property
    def nginx_conf(self) -> Path:
        """Where the rendered nginx configuration is written."""
        return self.run_dir / "nginx.conf"

    def replicas(self, kind: str) -> List[Service]:
        """The processes of one kind (``rasa``, ``actions``, ``backend``)."""
        return [s for s in self.services if s.name.rsplit("-", 1)[0] == kind]

    def direct_url(self, service: Service) -> str:
        """A process's own loopback URL (its health URL without the path)."""
        scheme, rest = service.health_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    def start(self, timeout: float = 300.0, parallel: bool = True) -> "ScaledStack":
        """Create the databases, render nginx.conf, start every process at once."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.created_databases = ensure_databases(
            self.scaled.postgres_url,
            [self.scaled.database(role) for role in self.database_urls],
        )
        render_nginx_conf(self.template_values, self.nginx_conf)
        super().start(timeout=timeout, parallel=parallel)
        return self


def distinct_free_ports(count: int) -> List[int]:
    """``count`` different loopback ports nobody listens on (all held open while
    they are picked, so the kernel cannot hand out one twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def find_nginx(configured: str) -> str:
    """The nginx executable: ``SHEBAO_NGINX``, else on ``PATH``, else Debian's."""
    found = shutil.which(configured)
    if found:
        return found
    if configured == "nginx" and os.access(NGINX_FALLBACK, os.X_OK):
        return NGINX_FALLBACK
    raise ConfigError(
        f"nginx not found ({configured}); run `make nginx` (Debian's package) "
        "or set SHEBAO_NGINX to its path"
    )


def render_nginx_conf(values: Mapping[str, object], target: Path) -> Path:
    """Render ``deploy/nginx/scaled.conf.j2`` with ``values`` into ``target``."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # nginx syntax, not HTML; every value is ours
    )
    text = environment.get_template(TEMPLATE.name).render(**values)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (target.parent / "nginx-temp" / name).mkdir(parents=True, exist_ok=True)
    Path(str(values["log_dir"])).mkdir(parents=True, exist_ok=True)
    return target


def _server_connection(postgres_url: str) -> Any:
    import psycopg2

    connection = psycopg2.connect(f"{postgres_url.rstrip('/')}/postgres")
    connection.autocommit = True  # CREATE/DROP DATABASE refuse a transaction
    return connection


def ensure_databases(postgres_url: str, names: Sequence[str]) -> List[str]:
    """Create each database in ``names`` that does not exist; the created ones."""
    from psycopg2 import sql

    created = []
    connection = _server_connection(postgres_url)
    try:
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                    )
                    created.append(name)
    finally:
        connection.close()
    return created


def drop_databases(postgres_url: str, names: Sequence[str]) -> None:
    """Drop the databases in ``names`` (throw-away test stacks), connections or not."""
    from psycopg2 import sql

    connection = _server_connection(postgres_url)
    try:
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(name)
                    )
                )
    finally:
        connection.close()


def prepare_tracker_store() -> int:
    """Create the tracker store's tables and index once, as a Rasa server would.

    Several Rasa servers starting on a fresh database would race to create
    them (Rasa logs the loser's error); the first replica runs this first.
    """
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.core.domain import Domain

    from common.warnings_policy import quiet_library_deprecations

    quiet_library_deprecations()
    endpoints = read_endpoints_from_path(str(REPO_ROOT / "endpoints.yml"))
    TrackerStore.create(endpoints.tracker_store, Domain.empty())
    print("Tracker store ready.", flush=True)
    return 0


def production_problems(environ: Mapping[str, str]) -> List[str]:
    """Every reason the topology must not start in production, each naming its
    variable: the services' own checks, run before any process starts."""
    from actions.config import ActionSettings
    from backend.settings import BackendSettings
    from bot.channels.settings import ChannelSettings
    from bot.channels.wechat.config import WeChatSettings
    from console.settings import ConsoleSettings

    problems: List[str] = []
    resolved: Dict[str, str] = {}
    for name in SECRET_NAMES:
        try:
            resolved[name] = env_secret(name, "", environ)
        except ConfigError as exc:
            problems.append(str(exc))
    # the services see the values as the launcher hands them over
    env = {
        k: v
        for k, v in environ.items()
        if k not in {secret_file_variable(n) for n in SECRET_NAMES}
    }
    env.update({k: v for k, v in resolved.items() if v})
    if env_str("BACKEND_MODE", "", environ).strip().lower() != "production":
        problems.append(
            "BACKEND_MODE must be set to production explicitly (no dev outbox in "
            "a production deployment)"
        )
    if not env_str("SHEBAO_CORS_ORIGINS", "", environ):
        problems.append("SHEBAO_CORS_ORIGINS must list the bureau's site origins")
    for name in REQUIRED:
        problem = secret_problem(name, resolved.get(name, ""))
        if problem:
            problems.append(problem)
    checks = (
        lambda: problems.extend(BackendSettings.from_env(env).problems()),
        lambda: ActionSettings.from_env(env).check_for_production(env),
        lambda: ChannelSettings.from_env(env).check_for_production(env),
        lambda: ChannelSettings.from_env(env).check_rest_for_production(env),
        lambda: WeChatSettings.load({}, env).require_deployable(env),
        lambda: ConsoleSettings.from_env(env).require_servable(),
    )
    for check in checks:
        try:
            check()
        except ValueError as exc:  # ConfigError, UnsafeForProduction, WeChat's
            problems.append(str(exc))
    return list(dict.fromkeys(problems))


def _secret_env(kind: str, environ: Mapping[str, str]) -> Dict[str, str]:
    """The secrets one kind of process gets: its ``<NAME>_FILE`` where it reads
    files itself, else the value (in the environment, never on argv)."""
    out: Dict[str, str] = {}
    for name, reads_files in SECRETS[kind].items():
        file_variable = secret_file_variable(name)
        if reads_files and environ.get(file_variable):
            out[file_variable] = environ[file_variable]
            continue
        value = env_secret(name, "", environ)
        if value:
            out[name] = value
    return out


def build_scaled_stack(
    scaled: ScaledSettings,
    var_dir: Path,
    model_path: Path,
    extra_env: Optional[Mapping[str, str]] = None,
    host: str = "127.0.0.1",
) -> ScaledStack:
    """Describe the scaled topology (nothing starts and no database is created yet).

    Raises ``ConfigError`` listing every problem when ``SHEBAO_ENV`` is
    production and a secret or setting is missing.
    """
    given = {**os.environ, **(extra_env or {})}
    production = not is_development(
        {"SHEBAO_ENV": given.get("SHEBAO_ENV") or "development"}
    )
    if production:
        problems = production_problems(given)
        if problems:
            raise ConfigError(
                "the production settings are incomplete (each line names the "
                "variable to set, or its <NAME>_FILE):\n"
                + "\n".join(f"  - {problem}" for problem in problems)
            )
    public_port = scaled.public_port
    ports = distinct_free_ports(scaled.replicas + scaled.actions + scaled.backends + 4)
    rasa_ports = [ports.pop() for _ in range(scaled.replicas)]
    actions_ports = [ports.pop() for _ in range(scaled.actions)]
    backend_ports = [ports.pop() for _ in range(scaled.backends)]
    actions_listen, backend_listen, web_port, console_port = ports
    settings = StackSettings(
        var_dir=var_dir,
        host=host,
        rasa_port=public_port,  # rasa_url: nginx's public listener
        actions_port=actions_listen,  # actions_url: nginx's internal listener
        backend_port=backend_listen,  # backend_url: nginx's internal listener
        web_port=public_port,  # the widget is served through nginx too
        model_path=model_path,
        console_port=console_port,
    )
    database_urls = {role: scaled.database_url(role) for role in ROLES}
    explicit = {
        "tracker": "SHEBAO_TRACKER_URL",
        "backend": "DATABASE_URL",
        "console": "CONSOLE_DATABASE_URL",
    }
    for role, name in explicit.items():  # an operator's own database wins
        if env_secret(name, "", given):
            database_urls.pop(role)
    public_url = f"http://{host}:{public_port}"
    plain = {
        "SHEBAO_REDIS_PREFIX": scaled.redis_prefix,
        "SHEBAO_EVENT_QUEUE": scaled.event_queue,
        # residents' browsers load the page and open socket.io on nginx's port
        # (or the operator's public https:// origin in front of it)
        "SHEBAO_RASA_URL": given.get("SHEBAO_RASA_URL") or public_url,
        "SHEBAO_CORS_ORIGINS": given.get("SHEBAO_CORS_ORIGINS") or public_url,
    }
    # connection URLs that may carry a password: secrets in production
    connections = {
        "SHEBAO_REDIS_URL": scaled.redis_url,
        "SHEBAO_EVENT_BROKER_URL": scaled.broker_url,
        **{explicit[role]: url for role, url in database_urls.items()},
    }
    if production:
        # Nothing is generated and no secret goes to every process: stack_env's
        # random fall-backs are blanked, then every secret-like variable dropped.
        env = stack_env(
            settings,
            {
                **(extra_env or {}),
                **plain,
                "SHEBAO_ACTIONS_TOKEN": "",
                "RASA_AUTH_TOKEN": "",
            },
        )
        secret_like = set(SECRET_NAMES) | {
            secret_file_variable(n) for n in SECRET_NAMES
        }
        env = {
            k: v
            for k, v in env.items()
            if k not in secret_like and k not in DEVELOPMENT_ONLY
        }
        secret_source = {
            k: v
            for k, v in given.items()
            if k not in {secret_file_variable(n) for n in connections}
        }
        secret_source.update(connections)
    else:
        env = stack_env(
            settings,
            {
                "SHEBAO_ACTIONS_TOKEN": given.get("SHEBAO_ACTIONS_TOKEN")
                or secrets.token_hex(32),
                **(extra_env or {}),
                **plain,
                **connections,
            },
        )
        env.pop("RASA_AUTH_TOKEN", None)  # Rasa's HTTP API stays off
        secret_source = {}

    def own(kind: str) -> Dict[str, str]:
        return _secret_env(kind, secret_source) if production else {}

    services: List[Service] = []
    for index, port in enumerate(backend_ports, start=1):
        service = backend_service(
            f"backend-{index}", "127.0.0.1", port, seed=False, env=own("backend")
        )
        if index == 1:  # one process prepares the database, the others wait
            command = "migrate" if production else "seed"
            service.prepare.append(([sys.executable, "-m", "backend", command], ""))
        else:
            service.after = ("backend-1",)
        services.append(service)
    for index, port in enumerate(actions_ports, start=1):
        service = actions_service(f"actions-{index}", host, port)
        service.env.update(own("actions"))
        services.append(service)
    for index, port in enumerate(rasa_ports, start=1):
        service = rasa_service(
            f"rasa-{index}",
            settings.model_path,
            host,
            port,
            env["SHEBAO_CORS_ORIGINS"],
            # behind nginx: the resident's address is nginx's X-Real-IP
            env={"SANIC_REAL_IP_HEADER": "x-real-ip", **own("rasa")},
        )
        if index == 1:  # the tables, once, before the replicas race for them
            service.prepare.append(
                ([sys.executable, "-m", "tools.scaled", "--prepare-tracker-store"], "")
            )
        else:
            service.after = ("rasa-1",)
        services.append(service)
    services.append(web_service("web", host, web_port))
    console = console_service(settings, env, console_host(env))
    console.env.update(own("console"))
    services.append(console)
    nginx = find_nginx(scaled.nginx)
    run_dir = var_dir.resolve()
    log_dir = run_dir / "logs"
    nginx_flags = ["-p", str(run_dir), "-c", str(run_dir / "nginx.conf")]
    nginx_flags += ["-e", str(log_dir / "nginx-error.log")]
    services.append(
        Service(
            "nginx",
            [nginx, *nginx_flags, "-g", "daemon off;"],
            f"http://{host}:{public_port}/nginx-health",
            prepare=[([nginx, *nginx_flags, "-t", "-q"], "")],
        )
    )
    values: Dict[str, object] = {
        # As root the workers would switch to "nobody": keep them ours.
        "user": pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else "",
        "run_dir": str(run_dir),
        "log_dir": str(log_dir),
        "public_host": host,
        "public_port": public_port,
        "rasa_ports": rasa_ports,
        "actions_ports": actions_ports,
        "backend_ports": backend_ports,
        "web_port": web_port,
        "actions_listen_port": actions_listen,
        "backend_listen_port": backend_listen,
    }
    return ScaledStack(
        settings,
        env,
        services,
        log_dir,
        scaled=scaled,
        database_urls=database_urls,
        template_values=values,
    )


def banner(stack: ScaledStack) -> str:
    """Where everything is, printed once the topology is up."""
    from backend.demo import DEMO_ID_NUMBER

    def ports(kind: str) -> str:
        return ", ".join(stack.direct_url(s) for s in stack.replicas(kind))

    public = stack.public_url
    lines = [
        "",
        f"Shebao Assistant (scaled) is running behind nginx on {public}:",
        f"  REST channel        POST {public}/webhooks/rest/webhook",
        f"  socket.io           {public}/socket.io/  (WebSocket only)",
        f"  WeChat callback     {public}/webhooks/wechat/webhook",
        f"  Web chat demo page  {public}/  (English: {public}/?lang=en)",
        f"  Rasa servers        {ports('rasa')}",
        f"  Action servers      {ports('actions')}  (via {stack.actions_url})",
        f"  Backend processes   {ports('backend')}  (via {stack.backend_url})",
        f"  Review console      {stack.console_url}/{console_login(stack)}",
        f"  Logs                {stack.log_dir}",
    ]
    if stack.env.get("SHEBAO_ENV") == "development":
        outboxes = "\n".join(
            f"  {stack.direct_url(s)}/api/v1/dev/outbox?id_number={DEMO_ID_NUMBER}"
            for s in stack.replicas("backend")
        )
        lines += [
            "",
            f"Demo ID number {DEMO_ID_NUMBER}. Each backend process keeps its own dev",
            "outbox; the code is in the one that sent it:",
            outboxes,
        ]
    lines += ["", "Press Ctrl-C (or send SIGTERM) to stop everything."]
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Start the scaled topology, print its URLs, stop it on Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.scaled", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--replicas", type=int, default=2, help="Rasa servers (2)")
    parser.add_argument("--actions", type=int, default=2, help="action servers (2)")
    parser.add_argument(
        "--prepare-tracker-store", action="store_true", help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.prepare_tracker_store:  # run by the launcher before the first replica
        return prepare_tracker_store()
    try:
        base = StackSettings.from_env()
        scaled = ScaledSettings.from_env(args.replicas, args.actions)
        stack = build_scaled_stack(
            scaled,
            var_dir=base.var_dir.resolve() / "scaled",
            model_path=base.model_path.resolve(),
            host=base.host,
        )
    except ConfigError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr, flush=True)
        return 2
    print(
        f"Starting {scaled.replicas} Rasa servers, {scaled.actions} action servers, "
        f"{scaled.backends} backend processes, the demo page, the console and nginx "
        f"(logs in {stack.log_dir}) ...",
        flush=True,
    )
    import psycopg2

    try:
        stack.start()
    except (OSError, RuntimeError, subprocess.SubprocessError, psycopg2.Error) as exc:
        # psycopg2's errors, a process that exited, a health URL that never answered
        print(f"could not start: {exc}", file=sys.stderr, flush=True)
        return 1
    print(banner(stack), flush=True)
    return run_until_stopped(stack)


if __name__ == "__main__":
    sys.exit(main())
