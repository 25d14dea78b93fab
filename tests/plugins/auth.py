"""Credentials for the security tests: a bcrypt password file, an RSA JWKS and tokens signed with it."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ISSUER, AUDIENCE = "https://issuer.test", "poiesis-tes"
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-2", "root": "root-pw-3"}


def basic(user: str, password: str | None = None) -> dict[str, str]:
    """The Authorization header of ``user`` (with its right password unless one is given)."""
    raw = f"{user}:{PASSWORDS.get(user, '') if password is None else password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture(scope="session")
def password_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``user:bcrypt`` lines for alice, bob and root (cost 4: these tests measure behaviour, not cost)."""
    import bcrypt

    path = tmp_path_factory.mktemp("auth") / "passwords"
    path.write_text("# test users\n" + "".join(
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for user, pw in PASSWORDS.items()
    ))
    return path


def _rsa():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, Any]:
    """The issuer's key (in the JWKS) and a stranger's key (not in it)."""
    return {"issuer": _rsa(), "stranger": _rsa()}


@pytest.fixture(scope="session")
def jwks_file(tmp_path_factory: pytest.TempPathFactory, signing_keys: dict[str, Any]) -> Path:
    """A JWKS document holding the issuer's public key, kid k1."""
    import jwt

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_keys["issuer"].public_key()))
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return path


@pytest.fixture(scope="session")
def make_token(signing_keys: dict[str, Any]) -> Callable[..., str]:
    """A signed JWT for ``sub``; keyword arguments override claims, ``key``/``kid``/``alg`` the signing."""
    import jwt

    def make(sub: str | None = "alice", *, key: str = "issuer", kid: str = "k1", alg: str = "RS256",
             **claims: Any) -> dict[str, str]:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 300, **claims}
        if sub is not None:
            body["sub"] = sub
        body = {k: v for k, v in body.items() if v is not None}
        secret = signing_keys.get(key, key)
        token = jwt.encode(body, secret, algorithm=alg, headers={"kid": kid})
        return {"Authorization": f"Bearer {token}"}

    return make
