"""Start, watch and stop every process of the assistant on one machine.

``make run`` uses it (``python -m tools.devstack``) and so do the integration
tests (``tests/support/stack.py``), so the tests exercise exactly the processes
an operator runs: the action server, the contribution backend, the Rasa server
(REST, socket.io and WeChat channels) and the web-widget demo server, talking
over real HTTP on localhost.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Service:
    """One long-running process and the URL that says it is ready."""

    name: str
    command: List[str]
    health_url: str
    env: Dict[str, str] = field(default_factory=dict)
    cwd: Path = REPO_ROOT
    process: Optional[subprocess.Popen] = None
    # commands run to completion before the service starts: (argv, stdin text)
    prepare: List[Tuple[List[str], str]] = field(default_factory=list)
    # services whose ``prepare`` must have finished first (a parallel start waits
    # for them: a second backend process must not migrate while the first seeds)
    after: Tuple[str, ...] = ()


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests and parallel stacks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    """An executable of the running virtual environment (rasa, ...)."""
    return str(Path(sys.executable).with_name(name))


@dataclass
class Stack:
    """The running assistant: URLs of its services and a way to stop them."""

    settings: StackSettings
    env: Dict[str, str]
    services: List[Service]
    log_dir: Path
    # a second page origin the tests may serve from (see tests/support/stack.py)
    spare_web_port: Optional[int] = None

    @property
    def rasa_url(self) -> str:
        """Where the Rasa server listens."""
        return f"http://{self.settings.host}:{self.settings.rasa_port}"

    @property
    def actions_url(self) -> str:
        """Where the action server listens."""
        return f"http://{self.settings.host}:{self.settings.actions_port}"

    @property
    def backend_url(self) -> str:
        """Where the backend listens."""
        return f"http://{self.settings.host}:{self.settings.backend_port}"

    @property
    def web_url(self) -> str:
        """Where the web widget is served."""
        return f"http://{self.settings.host}:{self.settings.web_port}"

    @property
    def console_url(self) -> str:
        """Where the console listens (it may be bound to another interface)."""
        console = next((s for s in self.services if s.name == "console"), None)
        host = console.env["CONSOLE_HOST"] if console else self.settings.host
        return f"http://{host}:{self.settings.console_port}"

    @property
    def rasa_token(self) -> str:
        """The token the Rasa HTTP API was started with."""
        return self.env["RASA_AUTH_TOKEN"]

    def service(self, name: str) -> Service:
        """The running service with this name."""
        return next(s for s in self.services if s.name == name)

    def start(self, timeout: float = 240.0, parallel: bool = False) -> "Stack":
        """Start every service and wait until each answers its health URL.

        ``parallel`` starts each service as soon as the services it comes
        ``after`` are prepared, instead of one after the other (the scaled
        topology starts a dozen processes; Rasa's model load is the long pole).
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not parallel:
            for service in self.services:
                self._launch(service)
        else:
            self._launch_in_parallel()
        deadline = time.monotonic() + timeout
        for service in self.services:
            self._wait_healthy(service, deadline)
        return self

    def _launch(self, service: Service) -> None:
        """Run the service's preparation commands, then start its process."""
        log = open(self.log_dir / f"{service.name}.log", "ab")
        for command, stdin_text in service.prepare:
            subprocess.run(
                command,
                cwd=service.cwd,
                env={**self.env, **service.env},
                input=stdin_text.encode("utf-8"),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
            )
        service.process = subprocess.Popen(
            service.command,
            cwd=service.cwd,
            env={**self.env, **service.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _launch_in_parallel(self) -> None:
        """``_launch`` every service in its own thread, honouring ``after``."""
        launched = {s.name: threading.Event() for s in self.services}
        failures: List[BaseException] = []

        def launch(service: Service) -> None:
            try:
                for name in service.after:
                    launched[name].wait()
                if not failures:
                    self._launch(service)
            except BaseException as exc:  # reported below, after every thread ends
                failures.append(exc)
            finally:
                launched[service.name].set()

        threads = [
            threading.Thread(target=launch, args=(s,), name=f"start-{s.name}")
            for s in self.services
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            self.stop()
            raise failures[0]

    def _wait_healthy(self, service: Service, deadline: float) -> None:
        while time.monotonic() < deadline:
            assert service.process is not None
            if service.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"see {self.log_dir / (service.name + '.log')}"
                )
            try:
                with urllib.request.urlopen(service.health_url, timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"{service.name} not healthy at {service.health_url}")

    def stop(self) -> None:
        """Stop every service (SIGTERM, then SIGKILL after a grace period)."""
        for service in reversed(self.services):
            if service.process and service.process.poll() is None:
                os.killpg(service.process.pid, signal.SIGTERM)
        for service in reversed(self.services):
            if service.process is None:
                continue
            try:
                service.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()


def build_stack(
    settings: Optional[StackSettings] = None,
    extra_env: Optional[Mapping[str, str]] = None,
    with_web: bool = True,
    enable_api: bool = False,
    with_console: bool = True,
) -> Stack:
    """Describe the assistant's processes for ``settings`` (nothing starts yet)."""
    settings = settings or StackSettings.from_env()
    host = settings.host
    env = stack_env(settings, extra_env)
    backend_host = env["BACKEND_HOST"]
    cors_origins = env["SHEBAO_CORS_ORIGINS"]
    # Rasa's HTTP API (trackers, model) is off unless asked for (the tests read
    # trackers through it); its token is then only on this machine's command line.
    api_flags = (
        ["--enable-api", "--auth-token", env["RASA_AUTH_TOKEN"]] if enable_api else []
    )
    services = [
        backend_service("backend", backend_host, settings.backend_port),
        actions_service("actions", host, settings.actions_port),
        rasa_service(
            "rasa",
            settings.model_path,
            host,
            settings.rasa_port,
            cors_origins,
            api_flags,
        ),
    ]
    if with_web:
        services.append(web_service("web", host, settings.web_port))
    if with_console:
        services.append(console_service(settings, env, console_host(env)))
    return Stack(settings, env, services, settings.var_dir.resolve() / "logs")


def console_host(env: Mapping[str, str]) -> str:
    """Like the backend, the staff console stays on loopback when the chat is
    published (SHEBAO_HOST=0.0.0.0): staff reach it through a proxy or VPN."""
    return env.get("CONSOLE_HOST") or "127.0.0.1"


def stack_env(
    settings: StackSettings, extra_env: Optional[Mapping[str, str]] = None
) -> Dict[str, str]:
    """The environment every process of the stack starts with (``extra_env`` wins)."""
    host = settings.host
    var_dir = settings.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    given = {**os.environ, **(extra_env or {})}
    backend_host = given.get("BACKEND_HOST") or "127.0.0.1"
    cors_origins = (
        given.get("SHEBAO_CORS_ORIGINS") or f"http://{host}:{settings.web_port}"
    )
    return {
        **os.environ,
        # One machine, development conveniences (dev outbox, dev secrets). A
        # deployment sets SHEBAO_ENV=production and real secrets (README, "Deploying").
        "SHEBAO_ENV": os.environ.get("SHEBAO_ENV") or "development",
        "SHEBAO_VAR_DIR": str(var_dir),
        "SHEBAO_HOST": host,
        "ACTIONS_PORT": str(settings.actions_port),
        "SHEBAO_ACTIONS_TOKEN": os.environ.get("SHEBAO_ACTIONS_TOKEN")
        or secrets.token_hex(32),
        "SHEBAO_CORS_ORIGINS": cors_origins,
        "SHEBAO_ACTIONS_URL": f"http://{host}:{settings.actions_port}",
        "SHEBAO_BACKEND_URL": f"http://{backend_host}:{settings.backend_port}",
        "SHEBAO_RASA_URL": f"http://{host}:{settings.rasa_port}",
        "SHEBAO_TRACKER_URL": os.environ.get("SHEBAO_TRACKER_URL")
        or f"sqlite:///{var_dir / 'tracker.sqlite3'}",
        # hex: a url-safe token may start with "-", which `rasa run` reads as a flag
        "RASA_AUTH_TOKEN": os.environ.get("RASA_AUTH_TOKEN") or secrets.token_hex(24),
        # The backend stays on loopback unless BACKEND_HOST says otherwise.
        "BACKEND_HOST": backend_host,
        "BACKEND_PORT": str(settings.backend_port),
        # Local runs use the dev outbox instead of an SMS gateway (see README).
        "BACKEND_MODE": os.environ.get("BACKEND_MODE") or "development",
        "WEB_PORT": str(settings.web_port),
        "PYTHONUNBUFFERED": "1",
        # no telemetry or crash reports leave the machine
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        **(extra_env or {}),
    }


def backend_service(
    name: str,
    host: str,
    port: int,
    seed: bool = True,
    env: Optional[Dict[str, str]] = None,
) -> Service:
    """One contribution-backend process (``python -m backend serve``).

    ``seed`` adds the demo dataset first (``make run``); with several processes
    on one database only the first prepares it (see ``tools/scaled.py``).
    """
    return Service(
        name,
        [_bin("python"), "-m", "backend", "serve", *(["--seed"] if seed else [])],
        f"http://{host}:{port}/health",
        env={"BACKEND_PORT": str(port), **(env or {})},
    )


def actions_service(name: str, host: str, port: int) -> Service:
    """One action-server process (``python -m actions``) on ``port``."""
    return Service(
        name,
        [_bin("python"), "-m", "actions", "--logging-config-file", "logging.yml"],
        f"http://{host}:{port}/health",
        env={"ACTIONS_PORT": str(port)},
    )


def rasa_service(
    name: str,
    model_path: Path,
    host: str,
    port: int,
    cors_origins: str,
    api_flags: Optional[List[str]] = None,
    env: Optional[Dict[str, str]] = None,
) -> Service:
    """One Rasa server process (REST, socket.io, WeChat channels) on ``port``."""
    return Service(
        name,
        [
            # Rasa's CLI with quiet library deprecation warnings (bot/__main__.py)
            _bin("python"),
            "-m",
            "bot",
            "run",
            "--model",
            str(model_path),
            *(api_flags or []),
            # only the configured origins (the demo page by default) may
            # call Rasa from a browser; socket.io enforces the same list
            "--cors",
            *cors_origins.split(","),
            "--interface",
            host,
            "--port",
            str(port),
            "--credentials",
            "credentials.yml",
            "--endpoints",
            "endpoints.yml",
            "--logging-config-file",
            "logging.yml",
        ],
        f"http://{host}:{port}/",
        env=dict(env or {}),
    )


def web_service(name: str, host: str, port: int) -> Service:
    """The demo page and widget server (``python -m web``)."""
    return Service(
        name,
        [_bin("python"), "-m", "web"],
        f"http://{host}:{port}/health",
        env={"WEB_HOST": host, "WEB_PORT": str(port)},
    )


# The review console's demo account, created by `make run` in development only.
DEMO_CONSOLE_USER = "demo"
DEMO_CONSOLE_PASSWORD = "demo-console-password"


def console_service(
    settings: StackSettings, env: Mapping[str, str], host: str = "127.0.0.1"
) -> Service:
    """The staff review console (``python -m console serve``), reading the tracker store.

    In development a demo admin account is created (or reset) before it starts.
    """
    prepare: List[Tuple[List[str], str]] = []
    if env.get("SHEBAO_ENV") == "development":
        prepare.append(
            (
                [
                    _bin("python"),
                    "-m",
                    "console",
                    "create-staff",
                    DEMO_CONSOLE_USER,
                    "--role",
                    "admin",
                ],
                DEMO_CONSOLE_PASSWORD + "\n",
            )
        )
    return Service(
        "console",
        [_bin("python"), "-m", "console", "serve"],
        f"http://{host}:{settings.console_port}/health",
        env={
            "CONSOLE_HOST": host,
            "CONSOLE_PORT": str(settings.console_port),
            "CONSOLE_SUMMARY_INTERVAL": env.get("CONSOLE_SUMMARY_INTERVAL") or "1",
        },
        prepare=prepare,
    )


def console_login(stack: Stack) -> str:
    """How to sign in to the console, printed with the URLs."""
    if stack.env.get("SHEBAO_ENV") != "development":
        return "  (create an account: python -m console create-staff NAME --role admin)"
    return f"  (development login: {DEMO_CONSOLE_USER} / {DEMO_CONSOLE_PASSWORD})"


def run_until_stopped(stack: Stack) -> int:
    """Watch a started stack until Ctrl-C or SIGTERM, then stop every process.

    Returns 1 when a service died on its own (its log says why), else 0.
    """
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            dead = [
                s for s in stack.services if s.process and s.process.poll() is not None
            ]
            if dead:
                print(
                    f"{dead[0].name} stopped unexpectedly; see {stack.log_dir}",
                    flush=True,
                )
                return 1
            time.sleep(0.5)
    finally:
        print("\nStopping ...", flush=True)
        stack.stop()
        print("Stopped.", flush=True)
    return 0


def main() -> int:
    """Start the whole stack, print where everything is, and stop it on Ctrl+C."""
    from backend.demo import DEMO_ID_NUMBER

    stack = build_stack()
    print("Starting Shebao Assistant (logs in %s) ..." % stack.log_dir, flush=True)
    stack.start()
    print(
        "\nShebao Assistant is running:\n"
        f"  Rasa REST channel   POST {stack.rasa_url}/webhooks/rest/webhook\n"
        f"  Rasa socket.io      {stack.rasa_url}/socket.io\n"
        f"  WeChat callback     {stack.rasa_url}/webhooks/wechat/webhook"
        "  (try: python -m tools.wechat_send 你好)\n"
        f"  Action server       {stack.actions_url}/health\n"
        f"  Web chat demo page  {stack.web_url}/  (English: {stack.web_url}/?lang=en)\n"
        f"  Contribution API    {stack.backend_url}/api/v1/openapi.json\n"
        f"  Review console      {stack.console_url}/{console_login(stack)}\n"
        f'\nTry a verified inquiry: ask "which months of 2025 have I paid?", give the demo\n'
        f"ID number {DEMO_ID_NUMBER}, then the code from\n"
        f"  {stack.backend_url}/api/v1/dev/outbox?id_number={DEMO_ID_NUMBER}\n"
        "\nPress Ctrl-C to stop everything.",
        flush=True,
    )
    return run_until_stopped(stack)


if __name__ == "__main__":
    sys.exit(main())
