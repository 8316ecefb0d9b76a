"""``GET /verify`` served by two uvicorn worker processes: no worker outlives a decommission.

What this proves: the public verification has no per-process (or per-connection) memory.
A real server runs as a subprocess with ``--workers 2`` over the test's fresh database. Keep-
alive connections are opened until both worker processes hold at least one (which process
accepted a connection is read from ``/proc``: the one holding the server end of its socket),
and every one of them answers ``official: true`` for the account. Then the account is
decommissioned the way the registry does it (a request by the department's requester,
approved by its dept_approver, then by CED: one committing transaction), and at once 200
requests spread over those same connections, so over both workers, must every one answer
``official: false`` with ``status: "decommissioned"``. A cache in either worker, or a
transaction kept open on a connection, would let one of them still say ``official: true``.

Linux only (it reads ``/proc``); on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from registry.services import requests
from registry.services.actors import actor_by_email
from tests.conftest import FreshDatabase
from tests.factories import CAST, World

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="tells the workers apart through Linux /proc"
)

HOST = "127.0.0.1"
WORKERS = 2
STARTUP_SECONDS = 20.0
MAX_CONNECTIONS = 40  # opened, at most, to find a connection on every worker
MIN_CONNECTIONS = 4
REQUESTS_AFTER = 200
QUERY = {"platform": "facebook", "handle": "MBGov"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def _server(db: FreshDatabase, directory: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The registry under uvicorn with two workers; stopped (terminate, then kill) afterwards."""
    port = _free_port()
    env = {**os.environ, **db.env()}
    env.pop("REGISTRY_ACTOR", None)
    log = directory / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "registry.http.app:create_app",
                "--factory",
                "--workers",
                str(WORKERS),
                "--host",
                HOST,
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_answering(process, port, log)
            yield process, port
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def _wait_until_answering(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with status {process.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(f"http://{HOST}:{port}/verify", params=QUERY, timeout=1.0)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if response.status_code == 200:
                return
            last = f"status {response.status_code}: {response.text[:200]}"
        time.sleep(0.1)
    pytest.fail(f"the server did not answer in {STARTUP_SECONDS:g} s ({last}):\n{log.read_text()}")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its ")"
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def _worker_holding(server: subprocess.Popen[bytes], port: int, client_port: int) -> int:
    """The worker process holding the server end of the connection from ``client_port``."""
    wanted = f":{port:04X}", f":{client_port:04X}"
    inodes = [
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if fields[1].endswith(wanted[0]) and fields[2].endswith(wanted[1]) and fields[3] == "01"
    ]
    assert len(inodes) == 1, f"{len(inodes)} server sockets for client port {client_port}"
    target = f"socket:[{inodes[0]}]"
    workers = _children(server.pid)
    for pid in workers:
        try:
            descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) == target:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"none of the workers {workers} holds the connection {client_port}")


def _ask(client: httpx.Client) -> tuple[dict[str, object], int]:
    """The verify answer, and the local port of the connection that carried it."""
    response = client.get("/verify", params=QUERY)
    assert response.status_code == 200, response.text
    stream = response.extensions["network_stream"]
    return response.json(), int(stream.get_extra_info("client_addr")[1])


def test_no_worker_says_official_once_the_decommission_commits(
    fresh_db: FreshDatabase, tmp_path: Path
) -> None:
    settings = fresh_db.settings()
    with fresh_db.scope() as session:
        world = World.build(session, settings)
        account_id = world.account("MBGov", holders=("ced1", "agr_staff")).id
    assert account_id is not None

    with ExitStack() as stack:
        server, port = stack.enter_context(_server(fresh_db, tmp_path))
        owners: dict[int, int] = {}  # client port -> worker pid, looked up once per connection

        def ask(client: httpx.Client) -> tuple[dict[str, object], int]:
            """The answer, and the worker process that gave it."""
            answer, client_port = _ask(client)
            if client_port not in owners:
                owners[client_port] = _worker_holding(server, port, client_port)
            return answer, owners[client_port]

        # keep-alive connections until every worker holds some, each answering official
        clients: list[httpx.Client] = []
        before: set[int] = set()
        while len(before) < WORKERS or len(clients) < MIN_CONNECTIONS:
            assert len(clients) < MAX_CONNECTIONS, (
                f"{len(clients)} connections all went to worker(s) {sorted(before)}"
            )
            client = stack.enter_context(
                httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10.0)
            )
            clients.append(client)
            answer, pid = ask(client)
            assert answer["official"] is True and answer["status"] == "active", answer
            before.add(pid)
        for client in clients:  # every connection once more
            answer, _ = ask(client)
            assert answer["official"] is True, answer

        with fresh_db.scope() as session:
            request = requests.submit_decommission(
                session,
                settings=settings,
                actor=actor_by_email(session, settings, CAST["agr_requester"][0]),
                account_id=account_id,
                reason="Program ended",
            )
            for approver in ("agr_approver", "ced1"):
                requests.approve(
                    session,
                    settings=settings,
                    actor=actor_by_email(session, settings, CAST[approver][0]),
                    request_id=request.id or 0,
                )
        # committed: from here on, no worker may say official

        answered_by: Counter[int] = Counter()
        stale = []
        for number in range(REQUESTS_AFTER):
            answer, pid = ask(clients[number % len(clients)])
            answered_by[pid] += 1
            if answer["official"] is not False or answer["status"] != "decommissioned":
                stale.append((number, pid, answer))
        assert stale == [], f"{len(stale)} of {REQUESTS_AFTER} answers still official: {stale[:3]}"
        assert len(answered_by) == WORKERS, f"answered by {dict(answered_by)} only"
        assert answered_by.total() == REQUESTS_AFTER
