"""TLS for ``voicecli serve``: the certificate and key a user gives (checked before the models
load), or a self-signed certificate for this machine generated with the ``cryptography`` package
into the user's data dir (kept and reused while it is valid and names the hosts asked for). Clients
that insist on ``https``/``wss`` (the OpenAI Node SDK, a browser on another machine wanting the
microphone) then connect once they trust it (``NODE_EXTRA_CA_CERTS``, ``SSL_CERT_FILE``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from voicecli.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.x509 import GeneralName

VALID_DAYS = 825
"""The longest validity Apple platforms accept for a TLS server certificate."""
RENEW_DAYS = 30
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path


def checked(cert: Path, key: Path) -> TlsFiles:
    """``--tls-cert``/``--tls-key``, loaded once here so a bad pair fails with one line."""
    for path in (cert, key):
        if not path.is_file():
            raise ConfigError(f"cannot read {path}: no such file", "check --tls-cert and --tls-key")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"--tls-cert {cert} and --tls-key {key} are not a usable PEM certificate and key: {exc}",
                          "give the certificate chain and its private key in PEM, or use --tls-self-signed") from exc
    return TlsFiles(cert, key)


def host_names(host: str) -> tuple[str, ...]:
    """What the self-signed certificate names: loopback, this machine's name and the addresses it
    resolves to (for clients on the LAN), and ``host`` when it is a specific address or name."""
    hostname = socket.gethostname()
    names = [*LOOPBACK_NAMES, hostname]
    try:
        names += socket.gethostbyname_ex(hostname)[2]
    except OSError:
        pass  # a name that does not resolve: loopback and the name only
    if host not in ("0.0.0.0", "::", ""):
        names.append(host)
    return tuple(dict.fromkeys(n for n in names if n and n.isascii()))


def self_signed(directory: Path, names: tuple[str, ...]) -> tuple[TlsFiles, bool]:
    """The self-signed certificate in ``directory`` for ``names``, made (again) if missing, about
    to expire or not naming them all. Returns the files and whether they were just made."""
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    if _still_good(files, names):
        return files, False
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"voicecli on {socket.gethostname()}"[:64])])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=VALID_DAYS))
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        fd = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except OSError as exc:
        raise ConfigError(f"cannot write the self-signed certificate to {directory}: {exc}",
                          "check the permissions of the data dir, or give --tls-cert and --tls-key") from exc
    return files, True


def fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate, as browsers show it (AB:CD:…)."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _san(name: str) -> GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _still_good(files: TlsFiles, names: tuple[str, ...]) -> bool:
    if not (files.cert.is_file() and files.key.is_file()):
        return False
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound, OSError):
        return False
    have = {str(n) for n in san.get_values_for_type(x509.DNSName)}
    have |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(n)) if _is_ip(n) else n for n in names}
    left = cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)
    return wanted <= have and left > dt.timedelta(days=RENEW_DAYS)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
