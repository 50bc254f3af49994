"""TLS for the mock (``--tls``): a throwaway certificate authority and a server certificate signed by it.

Clients trust the mock by trusting the CA file, named through the variables their HTTP stacks read
(``trust_env``). The files live in a private temporary directory removed when the server stops; the
CA's key never leaves memory. Given files (``tls_cert``/``tls_key``) are used as they are.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..core.errors import ConfigError

# Python's ssl (and httpx), requests, grpcio, Node and curl each read their own variable.
TRUST_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "NODE_EXTRA_CA_CERTS",
                   "CURL_CA_BUNDLE")
VALIDITY = datetime.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """The server's certificate chain and key, and the CA file clients must trust."""

    cert_file: str
    key_file: str
    ca_file: str
    directory: str | None = None  # ours to delete, when we made the files

    def trust_env(self) -> dict[str, str]:
        """The variables that make Python (ssl, requests, httpx), gRPC, Node and curl trust the mock's CA."""
        return dict.fromkeys(TRUST_VARIABLES, self.ca_file)

    def remove(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def given_files(cert_file: str, key_file: str, ca_file: str | None = None) -> TlsFiles:
    """Files the user brought, checked now (a server that starts with a bad pair only stalls every handshake);
    absolute, since clients may run elsewhere. The CA to trust defaults to the certificate file itself."""
    for name in (cert_file, key_file, ca_file):
        if name is not None and not Path(name).is_file():
            raise ConfigError(f"TLS file {name} does not exist")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot serve TLS with certificate {cert_file} and key {key_file}: they must be a PEM "
                          f"certificate chain and its PEM private key ({exc})") from exc
    cert, key = str(Path(cert_file).resolve()), str(Path(key_file).resolve())
    return TlsFiles(cert, key, str(Path(ca_file).resolve()) if ca_file else cert)


def throwaway_files(hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")) -> TlsFiles:
    """A fresh CA and a server certificate for ``hosts`` (names and IP addresses), valid for a week."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)  # tolerate clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "scalekit-mock throwaway CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now).not_valid_after(now + VALIDITY)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory = Path(tempfile.mkdtemp(prefix="scalekit-mock-tls-"))  # mode 0700
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "server.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path = directory / "server-key.pem"
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return TlsFiles(str(directory / "server.pem"), str(key_path), str(directory / "ca.pem"), str(directory))
