"""A real SMTP server on loopback (aiosmtpd) for the tests that send e-mail.

::

    def test_it(mail_server: MailServer, fresh_db: FreshDatabase) -> None:
        settings = mail_server.settings_for(fresh_db.settings())  # smtp_* pointed at it
        ...
        [mail] = mail_server.wait_for(1)
        assert mail["To"] == "dana.deputy@gov.mb.ca" and "Request 12" in mail.text

``MailServer`` keeps what it received in ``messages`` (:class:`Received`: the parsed
``EmailMessage`` and the envelope). It can refuse (``fail_with(451, "try again later")``
answers every RCPT, or DATA, with that reply until ``recover()``), go down and come back on the
same port (``stop()``, ``start()``), answer slowly (``delay``), keep a message without
answering (``hold()``: the sender waits as if the reply were lost), speak TLS with a
self-signed certificate (``tls="ssl"`` from the first byte, ``tls="starttls"``; point
``SSL_CERT_FILE`` at ``cert_file`` for the client to trust it) and ask for a login
(``login=("user", "password")``, AUTH PLAIN and LOGIN).
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import email
import email.policy
import ipaddress
import shutil
import ssl
import threading
import time
import weakref
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from pathlib import Path
from tempfile import mkdtemp
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from registry.config import Settings

HOST = "127.0.0.1"
Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class Received:
    """One message as the server took it: ``message["Subject"]`` reads a header."""

    message: EmailMessage
    mail_from: str
    rcpt_tos: list[str]

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None, "no text/html part"
        return str(part.get_content()).replace("\r\n", "\n")  # type: ignore[attr-defined]


@cache
def certificate() -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files), made
    once per test run."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(mkdtemp(prefix="relay-cert-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, _smtp: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        refusal = self.server._refusal("RCPT")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _smtp: SMTP, _session: Session, envelope: Envelope) -> str:
        refusal = self.server._refusal("DATA")
        if refusal:
            return refusal
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.server._received(
            Received(parsed, str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos])
        )
        while self.server._holding.is_set():  # the message is kept; the reply is not sent yet
            await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"


class _Session(Session):
    """aiosmtpd's session without the deprecation warning its own login bookkeeping gives."""

    @property  # type: ignore[override]
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class _SMTP(SMTP):
    def _create_session(self) -> Session:
        return _Session(self.loop)


class _Controller(Controller):
    """aiosmtpd's controller, on a port of the system's choosing the first time (port 0),
    keeping track of its connections so that :meth:`MailServer.stop` can cut them."""

    def __init__(self, server: MailServer, **kwargs: Any) -> None:
        super().__init__(_Handler(server), hostname=HOST, port=server.port, **kwargs)
        self.owner = server
        self.sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        smtp = _SMTP(self.handler, **self.SMTP_kwargs)
        self.sessions.add(smtp)
        self.owner.connections += 1
        return smtp

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        async def listen() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return listen()

    def cut(self) -> None:
        """Close every connection (a relay that goes down drops them)."""
        done = threading.Event()

        def close() -> None:
            for smtp in list(self.sessions):
                if smtp.transport is not None:
                    smtp.transport.abort()
            done.set()

        self.loop.call_soon_threadsafe(close)
        done.wait(5)


class MailServer:
    """An SMTP server on 127.0.0.1 that keeps what it receives; see the module's text."""

    def __init__(self, *, tls: Security = "none", login: tuple[str, str] | None = None) -> None:
        self.tls: Security = tls
        self.login = login
        self.port = 0
        self.delay = 0.0
        self.messages: list[Received] = []
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self.connections = 0  # how many clients connected (aiosmtpd's start-up check too)
        self._changed = threading.Condition()
        self._failing: dict[str, str] = {}
        self._holding = threading.Event()
        self._controller: _Controller | None = None
        self.cert_file, self.key_file = certificate() if tls != "none" else (None, None)

    # -------------------------------------------------------------------------- life

    def start(self) -> MailServer:
        """Listen (again, on the same port once it has one)."""
        assert self._controller is None, "already running"
        kwargs: dict[str, Any] = {"ready_timeout": 10}
        if self.tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
            if self.tls == "ssl":
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
        if self.login is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_required"] = self.tls == "starttls"
            kwargs["auth_require_tls"] = self.tls == "starttls"  # implicit TLS is TLS too
        controller = _Controller(self, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Go down: close every connection and stop listening (the port refuses)."""
        if self._controller is None:
            return
        self._holding.clear()
        self._controller.cut()
        self._controller.stop()
        self._controller = None

    def cut(self) -> None:
        """Drop every open connection (the relay stays up): a connection that breaks."""
        assert self._controller is not None, "not running"
        self._controller.cut()

    # -------------------------------------------------------------------------- behaviour

    def fail_with(self, code: int, text: str, *, at: Literal["RCPT", "DATA"] = "RCPT") -> None:
        """Answer every ``at`` command with ``code text`` (such as 451 or 550) from now on."""
        self._failing = {at: f"{code} {text}"}

    def recover(self) -> None:
        """Stop refusing."""
        self._failing = {}

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Keep each message it receives in the block without answering its DATA (the sender
        waits); answer when the block ends."""
        self._holding.set()
        try:
            yield
        finally:
            self._holding.clear()

    def _refusal(self, command: str) -> str | None:
        return self._failing.get(command)

    def _authenticate(
        self, _smtp: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any
    ) -> AuthResult:
        assert self.login is not None
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.login
        )
        self.logins.append((data.login.decode() if isinstance(data, LoginPassword) else "?", ok))
        return AuthResult(success=ok, handled=False)

    # -------------------------------------------------------------------------- what came

    def _received(self, received: Received) -> None:
        with self._changed:
            self.messages.append(received)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """The messages, once at least ``count`` have arrived (AssertionError after
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.messages)} of {count} messages arrived"
                self._changed.wait(left)
            return list(self.messages)

    def clear(self) -> None:
        with self._changed:
            self.messages.clear()

    def by_message_id(self) -> dict[str, int]:
        """How many times each Message-ID arrived."""
        counts: dict[str, int] = {}
        for received in list(self.messages):
            counts[received.message_id] = counts.get(received.message_id, 0) + 1
        return counts

    # -------------------------------------------------------------------------- clients

    def settings_for(self, settings: Settings, **changes: Any) -> Settings:
        """A copy of ``settings`` whose relay is this server (its security, its login, a
        short timeout), with any other ``changes`` (validated, as from the environment)."""
        update: dict[str, Any] = {
            "smtp_host": HOST,
            "smtp_port": self.port,
            "smtp_security": self.tls,
            "smtp_timeout_seconds": 5.0,
            "smtp_username": self.login[0] if self.login else "",
        }
        if self.login:
            update["smtp_password"] = self.login[1]
        return type(settings)(**{**settings.model_dump(), **update, **changes})

    def env(self) -> dict[str, str]:
        """The ``REGISTRY_SMTP_*`` variables that point the ``registry`` command at it."""
        env = {
            "REGISTRY_SMTP_HOST": HOST,
            "REGISTRY_SMTP_PORT": str(self.port),
            "REGISTRY_SMTP_SECURITY": self.tls,
            "REGISTRY_SMTP_TIMEOUT_SECONDS": "5",
        }
        if self.login:
            env["REGISTRY_SMTP_USERNAME"], env["REGISTRY_SMTP_PASSWORD"] = self.login
        return env


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """A plain SMTP server on 127.0.0.1 (no TLS, no login), stopped after the test."""
    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()
