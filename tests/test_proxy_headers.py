"""``registry serve`` behind a TLS proxy: ``X-Forwarded-Proto`` is believed only from the proxy.

A real ``registry serve`` runs as a subprocess on loopback. A request that says it came over
HTTPS (``X-Forwarded-Proto: https``) from an address the server trusts
(``--forwarded-allow-ips`` / ``REGISTRY_FORWARDED_ALLOW_IPS``) gets HSTS and a ``Secure``
cookie; from any other address, or with ``--no-proxy-headers``, the header is ignored, so a
client cannot make the registry believe a plain HTTP connection was encrypted.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import FreshDatabase

HOST = "127.0.0.1"
STARTUP_SECONDS = 20.0
HTTPS = {"X-Forwarded-Proto": "https"}
REGISTRY = str(Path(sys.executable).with_name("registry"))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    db: FreshDatabase, directory: Path, *flags: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """``registry serve FLAGS`` on a free loopback port; its base URL. Stopped afterwards."""
    port = _free_port()
    log = directory / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [REGISTRY, "serve", "--host", HOST, "--port", str(port), *flags],
            cwd=directory,
            env={**os.environ, **db.env(), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://{HOST}:{port}"
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    pytest.fail(f"registry serve exited ({process.returncode}):\n{log.read_text()}")
                try:
                    httpx.get(f"{base}/login", timeout=1.0)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"registry serve did not answer:\n{log.read_text()}")
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def over_https(base: str) -> tuple[str | None, str]:
    """The HSTS header and the sign-in cookie of ``GET /login`` claiming HTTPS."""
    response = httpx.get(f"{base}/login", headers=HTTPS, timeout=5.0)
    assert response.status_code == 200, response.text[:300]
    return response.headers.get("strict-transport-security"), response.headers["set-cookie"]


class TestServe:
    @pytest.mark.parametrize(
        ("flags", "env"),
        [
            (["--forwarded-allow-ips", "127.0.0.1"], {}),
            (["--proxy-headers", "--forwarded-allow-ips", "10.0.0.0/8, 127.0.0.1"], {}),
            ([], {"REGISTRY_FORWARDED_ALLOW_IPS": "127.0.0.0/8"}),
            ([], {}),  # the default: the proxy is on the same host
        ],
        ids=["flag", "a-list", "setting", "default"],
    )
    def test_a_trusted_proxy_saying_https_gets_hsts_and_secure_cookies(
        self, fresh_db: FreshDatabase, tmp_path: Path, flags: list[str], env: dict[str, str]
    ) -> None:
        with serving(fresh_db, tmp_path, *flags, env=env) as base:
            hsts, cookie = over_https(base)
            plain = httpx.get(f"{base}/login", timeout=5.0)
        assert hsts is not None and hsts.startswith("max-age=")
        assert "; secure" in cookie.lower()
        assert "strict-transport-security" not in plain.headers
        assert "; secure" not in plain.headers["set-cookie"].lower()

    @pytest.mark.parametrize(
        ("flags", "env"),
        [
            (["--forwarded-allow-ips", "10.1.2.3"], {}),
            (["--no-proxy-headers"], {}),
            ([], {"REGISTRY_FORWARDED_ALLOW_IPS": "192.0.2.0/24"}),
            ([], {"REGISTRY_PROXY_HEADERS": "false"}),
            (["--forwarded-allow-ips", "10.1.2.3"], {"REGISTRY_FORWARDED_ALLOW_IPS": "*"}),
        ],
        ids=["other-proxy", "no-proxy-headers", "setting", "setting-off", "flag-wins"],
    )
    def test_anyone_else_saying_https_is_not_believed(
        self, fresh_db: FreshDatabase, tmp_path: Path, flags: list[str], env: dict[str, str]
    ) -> None:
        with serving(fresh_db, tmp_path, *flags, env=env) as base:
            hsts, cookie = over_https(base)
        assert hsts is None
        assert "; secure" not in cookie.lower()


def refused_serve(db: FreshDatabase, *flags: str, env: dict[str, str] | None = None) -> str:
    """``registry serve FLAGS`` refused before it listens (a real process, so that one that
    would serve instead fails the test in seconds rather than running on); its stderr."""
    try:
        done = subprocess.run(
            [REGISTRY, "serve", "--host", HOST, "--port", str(_free_port()), *flags],
            env={**os.environ, **db.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("registry serve started serving instead of refusing")
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


class TestBadValues:
    @pytest.mark.parametrize("value", ["proxy.example", "10.0.0.1/8", "", " , "])
    def test_a_bad_flag_is_one_sentence(self, fresh_db: FreshDatabase, value: str) -> None:
        stderr = refused_serve(fresh_db, "--forwarded-allow-ips", value)
        assert stderr.startswith("--forwarded-allow-ips is not usable: "), stderr
        assert stderr.rstrip().endswith(".")

    def test_a_bad_setting_names_its_variable(self, fresh_db: FreshDatabase) -> None:
        stderr = refused_serve(fresh_db, env={"REGISTRY_FORWARDED_ALLOW_IPS": "proxy.example"})
        assert stderr.startswith("REGISTRY_FORWARDED_ALLOW_IPS='proxy.example' is not usable: ")
