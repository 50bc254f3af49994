"""Signing keys: the current RS256 key and the retired ones still published for a grace period."""

from __future__ import annotations

import secrets
import threading
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

    @classmethod
    def generate(cls, kid_prefix: str = "snk_") -> SigningKey:
        kid = kid_prefix + str(10**16 + secrets.randbelow(9 * 10**16))
        return cls.from_private_key(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


class KeyRing:
    """The current signing key plus retired keys, each published until its ``until`` time."""

    def __init__(self, initial: SigningKey) -> None:
        self._lock = threading.Lock()
        self._initial = initial
        self._current = initial
        self._retired: tuple[tuple[SigningKey, float], ...] = ()

    @property
    def current(self) -> SigningKey:
        return self._current

    def rotate(self, new: SigningKey, now: float, grace_seconds: float) -> SigningKey:
        """Make ``new`` current; keep the old key published until ``now + grace_seconds``."""
        with self._lock:
            kept = tuple((k, until) for k, until in self._retired if until > now)
            if grace_seconds > 0:
                kept += ((self._current, now + grace_seconds),)
            self._retired, self._current = kept, new
        return new

    def published(self, now: float) -> list[SigningKey]:
        """The keys in the JWKS at ``now``: the current one first."""
        return [self._current] + [k for k, until in self._retired if until > now]

    def find(self, kid: str, now: float) -> SigningKey | None:
        if kid == self._current.kid:
            return self._current
        for key, until in self._retired:
            if key.kid == kid and until > now:
                return key
        return None

    def jwks(self, now: float) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.published(now)]}

    def reset(self) -> None:
        with self._lock:
            self._current, self._retired = self._initial, ()
