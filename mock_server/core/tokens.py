"""Access tokens: issuing RS256 JWTs shaped like Scalekit's, and checking them on API calls."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from .clients import Client
from .errors import ApiError, ConfigError
from .journal import fingerprint
from .keys import KeyRing

if TYPE_CHECKING:
    from .state import TokenSequence

# Every field a token response can carry, in the order the documented example shows them.
RESPONSE_FIELDS = ("access_token", "token_type", "expires_in", "scope")


@dataclass(frozen=True)
class TokenPolicy:
    """The issuance settings of ``fixtures/token.json`` (plus the issuer URL)."""

    issuer: str
    lifetime_seconds: int
    expires_in_shortfall: int
    token_type: str
    full_access_scope: str
    jti_prefix: str
    response_fields: tuple[str, ...] = RESPONSE_FIELDS

    @classmethod
    def from_fixture(cls, issuer: str, data: dict[str, Any], lifetime: int | None = None) -> TokenPolicy:
        fields = tuple(data.get("response_fields", RESPONSE_FIELDS))
        if "access_token" not in fields or not set(fields) <= set(RESPONSE_FIELDS):
            raise ConfigError(f"token.json response_fields must include access_token and name only "
                              f"{', '.join(RESPONSE_FIELDS)}, not {list(fields)}")
        return cls(issuer, int(lifetime or data["lifetime_seconds"]), int(data["expires_in_shortfall"]),
                   data["token_type"], data["full_access_scope"], data["jti_prefix"], fields)


@dataclass(frozen=True)
class IssuedToken:
    """A token just signed, with what the token response and the journal say about it."""

    access_token: str
    jti: str
    iat: int
    exp: int
    expires_in: int
    scope: str

    def summary(self) -> dict[str, Any]:
        """What the journal records of the token: never the token itself."""
        return {"fingerprint": fingerprint(self.access_token), "jti": self.jti, "iat": self.iat, "exp": self.exp,
                "expires_in": self.expires_in}

    def response(self, token_type: str, fields: tuple[str, ...] = RESPONSE_FIELDS) -> dict[str, Any]:
        """The token response body: the ``fields`` of ``fixtures/token.json`` ``response_fields``."""
        body = {"access_token": self.access_token, "token_type": token_type,
                "expires_in": self.expires_in, "scope": self.scope}
        return {name: body[name] for name in fields}


@dataclass(frozen=True)
class VerifiedToken:
    """The claims of a token whose signature and issuer checked out (expiry is checked per use)."""

    claims: dict[str, Any]
    kid: str
    fingerprint: str
    sequence: int | None = None  # the number of its jti (what revocations compare), read with the signature

    def summary(self) -> dict[str, Any]:
        """What the journal records of the token: fingerprint, jti, iat, exp. Made once per token (the verifier
        keeps the token for its reuses) and shared by the journal entries of its calls, which never change it: a
        read of the journal copies them."""
        return self._summary

    @functools.cached_property
    def _summary(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint,
                **{k: self.claims[k] for k in ("jti", "iat", "exp") if k in self.claims}}

    @property
    def jti(self) -> str:
        return str(self.claims.get("jti", ""))

    @property
    def scopes(self) -> tuple[str, ...] | None:
        """``None`` for a full-access token (no ``scopes`` claim)."""
        scopes = self.claims.get("scopes")
        return None if scopes is None else tuple(s for s in scopes if isinstance(s, str))


class Revocations:
    """Revoked tokens: single ids, plus a watermark below which every earlier token is revoked."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jtis: frozenset[str] = frozenset()
        self._watermark = -1
        self._clients: dict[str, int] = {}  # a deleted client -> the last sequence number issued before

    def revoke(self, jti: str) -> None:
        self.revoke_many((jti,))

    def revoke_many(self, jtis: Iterable[str]) -> None:
        with self._lock:
            self._jtis = self._jtis | frozenset(jtis)

    def revoke_up_to(self, sequence: int) -> None:
        with self._lock:
            self._watermark = max(self._watermark, sequence)

    def revoke_client(self, client_id: str, up_to: int) -> None:
        """Every token issued to ``client_id`` up to sequence ``up_to`` (its client was deleted)."""
        with self._lock:
            self._clients = {**self._clients, client_id: up_to}

    def is_revoked(self, jti: str, sequence: int | None) -> bool:
        return jti in self._jtis or (sequence is not None and sequence <= self._watermark)

    def client_revoked(self, client_id: object, sequence: int | None) -> bool:
        up_to = self._clients.get(client_id) if isinstance(client_id, str) else None
        return up_to is not None and (sequence is None or sequence <= up_to)

    def reset(self) -> None:
        with self._lock:
            self._jtis, self._watermark, self._clients = frozenset(), -1, {}


class TokenIssuer:
    """Signs access tokens with the key ring's current key; ``jti`` numbers only grow."""

    def __init__(self, keys: KeyRing, sequence: TokenSequence) -> None:
        self._keys = keys
        self._sequence = sequence  # the environment's (state.py): shared by every process of a shared state

    @property
    def last_sequence(self) -> int:
        return self._sequence.last()

    def issue(self, policy: TokenPolicy, client: Client, scopes: tuple[str, ...] | None, now: float) -> IssuedToken:
        seq = self._sequence.next()
        lifetime = client.token_lifetime or policy.lifetime_seconds
        iat = int(now)
        jti = f"{policy.jti_prefix}{seq}"
        claims: dict[str, Any] = {"iss": policy.issuer, "sub": client.client_id}
        if client.audience:
            claims["aud"] = list(client.audience)
        claims.update(client_id=client.client_id, jti=jti, iat=iat, nbf=iat, exp=iat + lifetime)
        if client.organization_id:
            claims["oid"] = client.organization_id
        if scopes is not None:
            claims["scopes"] = list(scopes)
        key = self._keys.current
        token = jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
        scope = " ".join(scopes) if scopes else policy.full_access_scope
        return IssuedToken(token, jti, iat, iat + lifetime, max(lifetime - policy.expires_in_shortfall, 1), scope)


def jti_sequence(jti: str, prefix: str) -> int | None:
    digits = jti[len(prefix):] if jti.startswith(prefix) else ""
    return int(digits) if digits.isdigit() and len(digits) < 40 else None


class TokenVerifier:
    """Checks a bearer token as the real API does; raises ``ApiError`` naming the failure.

    Clients reuse a token for many calls, so the signature check is cached per token (bounded), with what
    never changes for it (its jti's number, its journal summary); what can change between calls — the key
    still published, the issuer, expiry on the virtual clock, revocation — is checked on every use. A token
    whose client (``client_id``, else ``sub``) is none the environment ever held (``known_client``) is no
    token the mock issued, whatever signed it: a forgery with a leaked or shared key, or one from another
    environment's key file. Invalid token.
    """

    def __init__(self, keys: KeyRing, revocations: Revocations, known_client: Callable[[object], bool],
                 cache_size: int = 1024) -> None:
        self._keys = keys
        self._revocations = revocations
        self._known_client = known_client
        self._cache: dict[tuple[str, str], VerifiedToken] = {}
        self._cache_size = cache_size

    def verify(self, token: str, policy: TokenPolicy, now: float) -> VerifiedToken:
        verified = self._cache.get((policy.issuer, token))
        if verified is None or self._keys.find(verified.kid, now) is None:
            verified = self._verify_signature(token, policy, now)
        claims = verified.claims
        if not self._known_client(claims.get("client_id", claims.get("sub"))):
            raise ApiError("invalid_token", "its client is none this environment ever had")
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise ApiError("invalid_token", "exp claim missing or not a number")
        if isinstance(nbf, (int, float)) and nbf > now + 1:
            raise ApiError("invalid_token", "token not valid yet (nbf in the future)")
        if exp <= now:
            raise ApiError("token_expired", "exp is past on the mock's clock")
        jti, sequence = claims.get("jti"), verified.sequence
        if isinstance(jti, str) and self._revocations.is_revoked(jti, sequence):
            raise ApiError("token_expired", "token revoked")
        if self._revocations.client_revoked(claims.get("client_id"), sequence):
            raise ApiError("invalid_token", "its client was deleted (fixtures/resources.json: tokens_of_deleted)")
        return verified

    def _verify_signature(self, token: str, policy: TokenPolicy, now: float) -> VerifiedToken:
        kid, claims = self._decode(token, policy, now)
        jti = claims.get("jti")
        verified = VerifiedToken(claims, kid, fingerprint(token),
                                 jti_sequence(jti, policy.jti_prefix) if isinstance(jti, str) else None)
        if len(self._cache) >= self._cache_size:
            self._cache.pop(next(iter(self._cache)), None)  # oldest first: dicts keep insertion order
        self._cache[(policy.issuer, token)] = verified
        return verified

    def _decode(self, token: str, policy: TokenPolicy, now: float) -> tuple[str, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise ApiError("invalid_token", "not a JWT") from exc
        if header.get("alg") != "RS256":
            raise ApiError("invalid_token", f"alg {header.get('alg')!r} is not RS256")
        kid = header.get("kid")
        key = self._keys.find(kid, now) if isinstance(kid, str) else None
        if key is None or not isinstance(kid, str):
            raise ApiError("invalid_token", "unknown kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.public_key, algorithms=["RS256"], issuer=policy.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": False, "require": ["iss", "sub", "exp", "iat"]})
        except jwt.InvalidIssuerError as exc:
            raise ApiError("invalid_token", "wrong issuer") from exc
        except jwt.PyJWTError as exc:
            raise ApiError("invalid_token", f"signature or claims invalid: {type(exc).__name__}") from exc
        return kid, claims
