"""Signing keys: the current RS256 key and the retired ones still published for a grace period.

The key a mock starts with is, unless a key file or the shipped fixture key is asked for, generated once per
process on first need (``process_key``): no two runs share a private key, and the hundreds of mocks a test suite
starts cost one RSA generation (50-100 ms), on their first token or JWKS, instead of one each at construction.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .errors import ConfigError


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair with its Scalekit-shaped key id (``snk_<digits>``)."""

    kid: str
    private_key: rsa.RSAPrivateKey
    public_key: rsa.RSAPublicKey
    jwk: dict[str, Any]

    @classmethod
    def from_private_key(cls, kid: str, key: rsa.RSAPrivateKey) -> SigningKey:
        public = key.public_key()
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        return cls(kid, key, public,
                   {"use": "sig", "kty": "RSA", "kid": kid, "alg": "RS256", "n": jwk["n"], "e": jwk["e"]})

    @classmethod
    def from_pem(cls, kid: str, pem: bytes, trusted: bool = False) -> SigningKey:
        """Load a PEM key; ``trusted`` (the project's own fixture key) skips the slow RSA self-check."""
        try:
            key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=trusted)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"signing key {kid}: not an unencrypted PEM private key") from exc
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ConfigError(f"signing key {kid}: must be an RSA key of at least 2048 bits")
        return cls.from_private_key(kid, key)

    def pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM: how a shared state (``redis_state.py``) hands it on."""
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    @classmethod
    def generate(cls, kid_prefix: str = "snk_") -> SigningKey:
        kid = kid_prefix + str(10**16 + secrets.randbelow(9 * 10**16))
        return cls.from_private_key(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


_generated: dict[str, SigningKey] = {}  # kid prefix -> this process's start key
_generating = threading.Lock()


def _forget_after_fork() -> None:
    """A forked process is another run: it makes its own key (and may not inherit a held lock)."""
    global _generating
    _generating = threading.Lock()
    _generated.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork
    os.register_at_fork(after_in_child=_forget_after_fork)


def process_key(kid_prefix: str) -> SigningKey:
    """The start key of every mock of this process that names no key file: generated on the first call."""
    with _generating:
        key = _generated.get(kid_prefix)
        if key is None:
            key = _generated[kid_prefix] = SigningKey.generate(kid_prefix)
        return key


class KeyRing:
    """The current signing key plus retired keys, each published until its ``until`` time.

    The start key comes from ``initial``, called on first need (a token, the JWKS), not at construction.
    """

    def __init__(self, initial: Callable[[], SigningKey]) -> None:
        self._lock = threading.Lock()
        self._make_initial = initial
        self._initial: SigningKey | None = None
        self._current: SigningKey | None = None  # None: the start key
        self._retired: tuple[tuple[SigningKey, float], ...] = ()

    @property
    def initial(self) -> SigningKey:
        """The key the mock started with, and that ``reset`` returns to."""
        key = self._initial
        if key is None:
            with self._lock:
                key = self._initial = self._initial or self._make_initial()
        return key

    @property
    def current(self) -> SigningKey:
        return self._current or self.initial

    def rotate(self, new: SigningKey, now: float, grace_seconds: float) -> SigningKey:
        """Make ``new`` current; keep the old key published until ``now + grace_seconds``."""
        initial = self.initial  # made before taking the lock: making it takes the lock
        with self._lock:
            kept = tuple((k, until) for k, until in self._retired if until > now)
            if grace_seconds > 0:
                kept += ((self._current or initial, now + grace_seconds),)
            self._retired, self._current = kept, new
        return new

    def published(self, now: float) -> list[SigningKey]:
        """The keys in the JWKS at ``now``: the current one first."""
        return [self.current] + [k for k, until in self._retired if until > now]

    def find(self, kid: str, now: float) -> SigningKey | None:
        current = self.current
        if kid == current.kid:
            return current
        for key, until in self._retired:
            if key.kid == kid and until > now:
                return key
        return None

    def jwks(self, now: float) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.published(now)]}

    def reset(self) -> None:
        with self._lock:
            self._current, self._retired = None, ()
