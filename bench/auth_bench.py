"""The cost of authentication per request, in microseconds, for each POIESIS_AUTH mode.

Not a test: it prints numbers. Two measurements per mode:

- ``authenticate``: the authenticator alone, one Authorization header value;
- ``guard``: one GET through the guard middleware (Host, path/query, Origin,
  auth) to an ASGI app that answers at once, minus the same request through
  the guard with authentication off: what auth adds to a request in the
  server. No database and no HTTP parsing are involved.

Basic is measured after the first verification (cached) and, separately,
for the first (bcrypt at the given cost). JWTs are RS256 (2048-bit) and
ES256.

    python bench/auth_bench.py [--n 20000] [--bcrypt-rounds 12]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
from pathlib import Path

import bcrypt
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from poiesis.api.hardening import auth
from poiesis.api.hardening.guard import Guard
from poiesis.config.security import AuthSettings, SecuritySettings

ISSUER, AUDIENCE = "https://issuer.bench", "poiesis"


def _per_call_us(fn, n: int) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(runs)


def _jwt_setup(tmp: Path, key, alg: str) -> tuple[auth.JwtAuth, str]:
    algo = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    jwk = {**json.loads(algo.to_jwk(key.public_key())), "kid": "k1", "alg": alg}
    path = tmp / f"jwks-{alg}.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    settings = AuthSettings(mode="jwt", jwks_file=path, issuer=ISSUER, audience=AUDIENCE)
    now = int(time.time())
    token = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": now + 3600, "iat": now},
                       key, algorithm=alg, headers={"kid": "k1"})
    return auth.authenticator(settings), f"Bearer {token}"


def _guard_us(authenticator, header: str | None, n: int) -> float:
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    guard = Guard(inner, settings=SecuritySettings(), authenticator=authenticator, base_path="/ga4gh/tes/v1",
                  spec={"paths": {"/tasks": {"get": {}}}})
    headers = [(b"host", b"127.0.0.1:8000")] + ([(b"authorization", header.encode())] if header else [])

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        pass

    async def many() -> float:
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                scope = {"type": "http", "method": "GET", "path": "/ga4gh/tes/v1/tasks",
                         "raw_path": b"/ga4gh/tes/v1/tasks", "query_string": b"view=MINIMAL", "headers": headers}
                await guard(scope, receive, send)
            runs.append((time.perf_counter() - start) / n * 1e6)
        return statistics.median(runs)

    return asyncio.run(many())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--bcrypt-rounds", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        passwords = tmp / "passwords"
        passwords.write_text(f"alice:{bcrypt.hashpw(b'pw', bcrypt.gensalt(rounds=args.bcrypt_rounds)).decode()}\n")
        basic = auth.authenticator(AuthSettings(mode="basic", basic_file=passwords))
        basic_header = "Basic " + base64.b64encode(b"alice:pw").decode()
        rs256 = _jwt_setup(tmp, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
        es256 = _jwt_setup(tmp, ec.generate_private_key(ec.SECP256R1()), "ES256")
        modes = {
            "none": (auth.NoAuth(), None),
            "basic (cached)": (basic, basic_header),
            "jwt RS256": rs256,
            "jwt ES256": es256,
        }
        for name, (authenticator, header) in (("jwt RS256 first", rs256), ("jwt ES256 first", es256)):
            fresh_jwt = auth.authenticator(authenticator._settings)  # noqa: SLF001 - a bench may look inside
            fresh_jwt._verified = auth._Remembered(size=0)  # noqa: SLF001 - nothing remembered: every call verifies
            modes[name] = (fresh_jwt, header)
        first = time.perf_counter()
        fresh = auth.authenticator(AuthSettings(mode="basic", basic_file=passwords))
        fresh.authenticate(basic_header)
        bcrypt_us = (time.perf_counter() - first) * 1e6
        basic.authenticate(basic_header)  # warm the cache
        baseline = _guard_us(auth.NoAuth(), None, args.n)
        print(f"{'mode':<16} {'authenticate µs':>16} {'guard µs':>10} {'auth adds µs':>13}")
        for name, (authenticator, header) in modes.items():
            n = args.n if "jwt" not in name else max(1, args.n // 10)
            alone = _per_call_us(lambda a=authenticator, h=header: a.authenticate(h), n)
            guarded = _guard_us(authenticator, header, n)
            print(f"{name:<16} {alone:>16.1f} {guarded:>10.1f} {guarded - baseline:>13.1f}")
        print(f"basic, first verification of a (user, password): {bcrypt_us:.0f} µs (bcrypt cost {args.bcrypt_rounds})")


if __name__ == "__main__":
    main()
