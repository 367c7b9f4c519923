"""Locust: simulated residents, each holding one conversation over the REST channel.

Each Locust user is a resident: it picks one of the scripted guidance
conversations (``bench/load_conversations.py``, Chinese and English), takes a
sender id of its own (letters only, ``tests/support/ids.py``, so the tracker
store keeps it verbatim as ``rest:<sender>``) and sends one turn per Locust
task, each after a random think time of up to ``--think-time`` seconds.  When
the conversation is over the next resident (a new sender id) takes its place.

Every conversation is appended to ``--transcripts`` as one JSON line: the
sender, the texts sent and the replies received, in order, and how it ended
(``complete``; ``stopped`` by the end of the run between two turns; ``failed``
at a turn that got no valid answer; ``interrupted`` with a request still in
flight when Locust killed the user).  ``bench/load_check.py`` compares these
lines with the tracker store.

One task is one turn, so with ``--stop-timeout`` a user finishes its request
in flight at the end of the run instead of being killed in it.  Runs in
Locust's own virtual environment (``make locust-venv``) with the repository on
``PYTHONPATH``; ``bench/load.py`` starts it::

    locust -f bench/locustfile.py --headless -u 50 -r 10 -t 60s --stop-timeout 30 \\
        --host http://127.0.0.1:5005 --transcripts var/load/transcripts.jsonl

``LOCUST_REST_API_KEY`` (or ``--rest-api-key``) is sent as the REST channel's
bearer key when the stack requires one (``SHEBAO_REST_API_KEY``).
"""

from __future__ import annotations

import json
import random
import time
from typing import IO, Any, Dict, List, Optional

import gevent
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.user.task import LOCUST_STATE_STOPPING

from bench.load_conversations import RESIDENT_CONVERSATIONS
from tests.support.ids import random_tag, sender_id

WEBHOOK = "/webhooks/rest/webhook"


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--transcripts",
        default="transcripts.jsonl",
        help="JSONL file the conversations are appended to",
    )
    parser.add_argument(
        "--think-time",
        type=float,
        default=1.0,
        help="most seconds a resident waits between two turns (0: none)",
    )
    parser.add_argument(
        "--run-tag",
        default="",
        help="letters in every sender id of this run (default: random)",
    )
    parser.add_argument(
        "--rest-api-key",
        default="",
        env_var="LOCUST_REST_API_KEY",
        help="bearer key of the REST channel, if the stack requires one",
    )


class _Transcripts:
    """The JSONL file of this Locust process, opened on first use."""

    def __init__(self) -> None:
        self._file: Optional[IO[str]] = None
        self.path = "transcripts.jsonl"
        self.run_tag = ""

    def configure(self, options: Any) -> None:
        self.path = getattr(options, "transcripts", "") or self.path
        tag = getattr(options, "run_tag", "") or random_tag(8)
        if not (tag.isascii() and tag.isalpha()):
            # a digit run in a sender id would make the store keep only its hash
            raise ValueError("--run-tag must be letters only")
        self.run_tag = tag

    def write(self, record: Dict[str, Any]) -> None:
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        # gevent does not switch inside a file write: lines never interleave
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


TRANSCRIPTS = _Transcripts()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    TRANSCRIPTS.configure(environment.parsed_options)


@events.quit.add_listener
def _on_quit(**_: Any) -> None:
    TRANSCRIPTS.close()


class Resident(FastHttpUser):
    """One resident at a time: a conversation under its own sender id."""

    network_timeout = 60.0
    connection_timeout = 10.0

    def wait_time(self) -> float:
        """No wait between tasks: the think time is slept inside :meth:`turn`.

        Locust kills a user it finds waiting when the run ends, and that kill
        lands after the user may already have woken and sent its next request
        (gevent delivers it later); a sleep inside the task is only ever left
        through the stop check below, before anything is sent.
        """
        return 0.0

    def _think(self) -> None:
        options = self.environment.parsed_options
        most = float(getattr(options, "think_time", 1.0)) if options else 1.0
        if most > 0:
            gevent.sleep(random.uniform(0.0, most))
        if self._state == LOCUST_STATE_STOPPING:
            raise StopUser()

    def on_start(self) -> None:
        """Start the first conversation."""
        options = self.environment.parsed_options
        key = getattr(options, "rest_api_key", "") if options else ""
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._begin()

    def _begin(self) -> None:
        index = random.randrange(len(RESIDENT_CONVERSATIONS))
        self.script = RESIDENT_CONVERSATIONS[index]
        self.record: Dict[str, Any] = {
            "sender": sender_id(f"load-{TRANSCRIPTS.run_tag}"),
            "run": TRANSCRIPTS.run_tag,
            "script": index,
            "started": time.time(),
            "turns": [],
        }
        self.pending: Optional[str] = None

    def _finish(self, outcome: str) -> None:
        self.record["outcome"] = outcome
        if self.pending is not None:
            self.record["pending"] = self.pending
        TRANSCRIPTS.write(self.record)
        self.pending = None

    @task
    def turn(self) -> None:
        """Send the next text of the conversation; record it and the replies."""
        if self.pending is not None:
            # the last turn raised (Locust logged it): its outcome is unknown
            self._finish("failed")
            self._begin()
        self._think()
        turns: List[Dict[str, Any]] = self.record["turns"]
        text = self.script[len(turns)]
        self.pending = text
        sent_at = round(time.time(), 4)
        started = time.perf_counter()
        with self.client.post(
            WEBHOOK,
            json={"sender": self.record["sender"], "message": text},
            headers=self.headers,
            name=WEBHOOK,
            catch_response=True,
        ) as response:
            seconds = round(time.perf_counter() - started, 4)
            replies = _replies(response)
            if replies is None:
                response.failure(f"status {response.status_code}")
                turns.append(
                    {
                        "text": text,
                        "status": response.status_code,
                        "at": sent_at,
                        "seconds": seconds,
                    }
                )
                self.pending = None
                self._finish("failed")
                self._begin()
                return
            response.success()
        turns.append(
            {"text": text, "replies": replies, "at": sent_at, "seconds": seconds}
        )
        self.pending = None
        if len(turns) == len(self.script):
            self._finish("complete")
            self._begin()

    def on_stop(self) -> None:
        """The run ends: record the conversation so far."""
        if self.record["turns"] or self.pending is not None:
            self._finish("interrupted" if self.pending is not None else "stopped")


def _replies(response: Any) -> Optional[List[Dict[str, Any]]]:
    """The bot's messages of a 200 answer, without ``recipient_id``; else None."""
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, list) or not all(isinstance(m, dict) for m in body):
        return None
    return [{k: v for k, v in m.items() if k != "recipient_id"} for m in body]
