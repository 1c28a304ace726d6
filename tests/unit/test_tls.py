"""The self-signed certificate of ``serve --tls-self-signed``: made once with a private key only
the user can read, naming loopback and this machine, reused while valid, made again when asked for
another name; Python's ssl accepts it as a server certificate and as the trust anchor that
verifies it (a real TLS handshake over a socket pair)."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from voicecli.errors import ConfigError
from voicecli.server import tls


def test_made_once_then_reused_and_remade_for_a_new_name(tmp_path: Path) -> None:
    names = tls.host_names("127.0.0.1")
    assert {"localhost", "127.0.0.1", "::1", socket.gethostname()} <= set(names)
    files, made = tls.self_signed(tmp_path / "tls", names)
    assert made and files.key.stat().st_mode & 0o077 == 0
    again, made = tls.self_signed(tmp_path / "tls", names)
    assert again == files and not made
    first = tls.fingerprint(files.cert)
    _, made = tls.self_signed(tmp_path / "tls", tls.host_names("voice.example"))
    assert made and tls.fingerprint(files.cert) != first
    assert len(first.split(":")) == 32


def test_a_client_trusting_the_file_completes_a_handshake_for_localhost(tmp_path: Path) -> None:
    files, _ = tls.self_signed(tmp_path, tls.host_names("127.0.0.1"))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(files.cert, files.key)
    client_ctx = ssl.create_default_context(cafile=files.cert)
    a, b = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.sendall(s.recv(5))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    t = threading.Thread(target=serve)
    t.start()
    with client_ctx.wrap_socket(b, server_hostname="localhost") as c:
        c.sendall(b"hello")
        assert c.recv(5) == b"hello"
    t.join(10)
    assert not errors


def test_checked_refuses_a_bad_pair_in_one_line(tmp_path: Path) -> None:
    files, _ = tls.self_signed(tmp_path, ("localhost",))
    assert tls.checked(files.cert, files.key) == files
    bad = tmp_path / "bad.pem"
    bad.write_text("nope\n")
    with pytest.raises(ConfigError, match="not a usable PEM certificate and key"):
        tls.checked(bad, files.key)
    with pytest.raises(ConfigError, match="no such file"):
        tls.checked(tmp_path / "missing.pem", files.key)
