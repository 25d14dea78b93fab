"""Who is calling: no authentication, HTTP Basic against a password file, or Bearer JWT (OIDC).

``authenticator(settings)`` builds the one the settings name; its
``authenticate(header)`` takes the Authorization header value and returns a
``Principal`` or raises ``AuthError``. The principal's ``owner`` is what the
store records on the tasks the caller creates; ``admin`` sees every task.
Verification is offline: the JWKS, issuer and audience are configured, no
key is ever fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from poiesis.config.security import AuthSettings

#: Asymmetric algorithms only: a JWKS of public keys must not let a token choose HS256.
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: ``owner`` names it in the store (None without authentication)."""

    owner: str | None
    admin: bool = False


ANONYMOUS_ADMIN = Principal(owner=None, admin=True)


class AuthError(Exception):
    """Missing or bad credentials: a 401 with ``challenge`` as WWW-Authenticate."""

    def __init__(self, detail: str, challenge: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.challenge = challenge


class Authenticator(Protocol):
    required: bool

    def authenticate(self, authorization: str | None) -> Principal: ...


class NoAuth:
    """Loopback-only servers: every caller is the same anonymous administrator."""

    required = False

    def authenticate(self, authorization: str | None) -> Principal:  # noqa: ARG002 - the protocol
        return ANONYMOUS_ADMIN


def load_password_file(path: Path) -> dict[str, bytes]:
    """``user:bcrypt-hash`` lines (``#`` comments and blank lines ignored) as {user: hash}."""
    users = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.startswith("$2"):
            raise ValueError(f"{path}:{number}: expected user:bcrypt-hash")
        users[user] = hashed.encode()
    return users


class _Remembered:
    """Principals already verified, by a digest of their credentials, oldest dropped first."""

    def __init__(self, size: int = 4096) -> None:
        self._items: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: bytes, now: float) -> Principal | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: bytes, principal: Principal, until: float) -> None:
        with self._lock:
            self._items[key] = (principal, until)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class BasicAuth:
    """HTTP Basic checked against salted bcrypt hashes.

    bcrypt costs tens of milliseconds by design, so a verified (user,
    password) pair is remembered for ``REMEMBER_SECONDS`` under an HMAC with
    a per-process random key (the password itself is never kept).
    """

    required = True
    challenge = 'Basic realm="poiesis", charset="UTF-8"'
    REMEMBER_SECONDS = 300.0

    def __init__(self, users: dict[str, bytes], *, admins: tuple[str, ...] = ()) -> None:
        import bcrypt

        self._bcrypt = bcrypt
        self._users = users
        self._admins = frozenset(admins)
        self._key = secrets.token_bytes(32)
        self._dummy = bcrypt.hashpw(b"dummy", bcrypt.gensalt(rounds=_rounds(users)))
        self._verified = _Remembered()

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "basic" or not value:
            raise AuthError("this server requires HTTP Basic credentials", self.challenge)
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise AuthError("malformed Basic credentials", self.challenge) from None
        if not sep:
            raise AuthError("malformed Basic credentials", self.challenge)
        key = hmac.digest(self._key, user.encode() + b"\0" + password.encode(), hashlib.sha256)
        now = time.time()
        known = self._verified.get(key, now)
        if known is not None:
            return known
        hashed = self._users.get(user)
        # An unknown user costs the same bcrypt round as a known one: no user enumeration by timing.
        ok = self._bcrypt.checkpw(password.encode(), hashed or self._dummy) and hashed is not None
        if not ok:
            raise AuthError("invalid user name or password", self.challenge)
        principal = Principal(owner=f"basic:{user}", admin=user in self._admins)
        self._verified.put(key, principal, now + self.REMEMBER_SECONDS)
        return principal


def _rounds(users: dict[str, bytes]) -> int:
    for hashed in users.values():
        try:
            return int(hashed.split(b"$")[2])
        except (IndexError, ValueError):
            continue
    return 12


class JwtAuth:
    """Bearer JWTs signed by a key of the configured JWKS, with the configured issuer and audience.

    A verified token is remembered (by its SHA-256) until its ``exp``, at
    most a minute: a signature check costs far more than a request.
    """

    required = True

    def __init__(self, settings: AuthSettings, jwks: dict[str, Any]) -> None:
        import jwt

        self._jwt = jwt
        self._settings = settings
        self._verified = _Remembered()
        self._keys = {}
        for number, jwk in enumerate(jwks.get("keys") or []):
            key = jwt.PyJWK.from_dict(jwk)
            self._keys[jwk.get("kid") or f"#{number}"] = key
        if not self._keys:
            raise ValueError("the JWKS holds no keys")
        self.challenge = 'Bearer realm="poiesis"'

    def _key_for(self, token: str) -> Any:
        header = self._jwt.get_unverified_header(token)
        kid = header.get("kid")
        if kid is not None:
            key = self._keys.get(kid)
        elif len(self._keys) == 1:
            key = next(iter(self._keys.values()))
        else:
            key = None
        if key is None:
            raise self._jwt.InvalidTokenError("no configured key matches the token's kid")
        return key

    def authenticate(self, authorization: str | None) -> Principal:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("this server requires a Bearer token", self.challenge)
        s = self._settings
        token = token.strip()
        digest, now = hashlib.sha256(token.encode()).digest(), time.time()
        known = self._verified.get(digest, now)
        if known is not None:
            return known
        try:
            key = self._key_for(token)
            claims = self._jwt.decode(
                token, key=key, algorithms=JWT_ALGORITHMS, audience=s.audience, issuer=s.issuer,
                leeway=s.leeway, options={"require": ["exp", "iss", "aud", s.subject_claim]},
            )
        except self._jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}", f'{self.challenge}, error="invalid_token"') from None
        subject = claims.get(s.subject_claim)
        if not isinstance(subject, str) or not subject:
            raise AuthError(f"the token's {s.subject_claim} claim is not a string", self.challenge)
        roles = claims.get(s.roles_claim) or []
        roles = [roles] if isinstance(roles, str) else roles
        principal = Principal(owner=f"jwt:{subject}", admin=isinstance(roles, list) and s.admin_role in roles)
        exp = claims["exp"] if isinstance(claims.get("exp"), int | float) else now
        self._verified.put(digest, principal, min(float(exp), now + 60))
        return principal


def authenticator(settings: AuthSettings) -> Authenticator:
    """The authenticator the settings name, its files read now (a bad file stops the server)."""
    if settings.mode == "basic":
        assert settings.basic_file is not None
        return BasicAuth(load_password_file(settings.basic_file), admins=settings.admin_users)
    if settings.mode == "jwt":
        assert settings.jwks_file is not None
        return JwtAuth(settings, json.loads(settings.jwks_file.read_text(encoding="utf-8")))
    return NoAuth()
