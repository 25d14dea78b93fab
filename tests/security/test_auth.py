"""Authentication (none, Basic, Bearer JWT) and ownership, through the app against real PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from poiesis import store
from poiesis.config.security import AuthSettings, SecuritySettings
from tests.api.test_api import TASK, assert_problem
from tests.plugins.auth import AUDIENCE, ISSUER, basic

BASE = "/ga4gh/tes/v1"


@pytest.fixture
def basic_client(serve_app, password_file: Path) -> TestClient:
    auth = AuthSettings(mode="basic", basic_file=password_file, admin_users=("root",))
    return serve_app(security=SecuritySettings(auth=auth))


@pytest.fixture
def jwt_client(serve_app, jwks_file: Path) -> TestClient:
    auth = AuthSettings(mode="jwt", jwks_file=jwks_file, issuer=ISSUER, audience=AUDIENCE)
    return serve_app(security=SecuritySettings(auth=auth))


def _unauthorized(response, scheme: str) -> None:
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith(scheme)


def test_basic_accepts_the_right_password_and_refuses_everything_else(basic_client: TestClient) -> None:
    """Missing, malformed, unknown-user and wrong-password requests are 401 with a Basic challenge."""
    assert basic_client.get("/tasks", headers=basic("alice")).status_code == 200
    for headers in ({}, basic("alice", "wrong"), basic("mallory", "x"), {"Authorization": "Basic !!!"},
                    {"Authorization": "Bearer abc"}, {"Authorization": "Basic " + "YWxpY2U="}):
        _unauthorized(basic_client.get("/tasks", headers=headers), "Basic")
        _unauthorized(basic_client.post("/tasks", json=TASK, headers=headers), "Basic")
        _unauthorized(basic_client.post("/tasks/x:cancel", headers=headers), "Basic")


def test_service_info_and_the_document_stay_public(basic_client: TestClient, jwt_client: TestClient) -> None:
    """service-info (also TES 1.0's) and openapi.json answer without credentials in every mode."""
    for client in (basic_client, jwt_client):
        assert client.get("/service-info").status_code == 200
        assert client.get("/tasks/service-info").json()["name"] == client.get("/service-info").json()["name"]
        assert client.get("/openapi.json").status_code == 200


def test_jwt_accepts_a_valid_token_and_refuses_bad_ones(jwt_client: TestClient, make_token: Callable) -> None:
    """Wrong issuer, audience, key, kid, algorithm, expired or subject-less tokens are 401 Bearer."""
    assert jwt_client.get("/tasks", headers=make_token("alice")).status_code == 200
    bad = [
        {},
        {"Authorization": "Bearer not.a.token"},
        make_token(iss="https://evil.test"),
        make_token(aud="someone-else"),
        make_token(exp=1000),
        make_token(key="stranger"),
        make_token(kid="k9"),
        make_token(sub=None),
        make_token(key="shared-secret", alg="HS256"),
        basic("alice"),
    ]
    for headers in bad:
        _unauthorized(jwt_client.get("/tasks", headers=headers), "Bearer")


def test_no_auth_serves_everyone_as_one_admin(client: TestClient) -> None:
    """Without authentication (loopback only) every caller sees every task."""
    task_id = client.post("/tasks", json=TASK).json()["id"]
    assert client.get(f"/tasks/{task_id}").status_code == 200


def _ownership(client: TestClient, alice: dict, bob: dict, admin: dict) -> None:
    mine = client.post("/tasks", json=TASK, headers=alice).json()["id"]
    theirs = client.post("/tasks", json=TASK, headers=bob).json()["id"]
    # bob cannot see, list or cancel alice's task: 404 as if it did not exist
    assert_problem(client.get(f"/tasks/{mine}", headers=bob), 404)
    assert_problem(client.post(f"/tasks/{mine}:cancel", headers=bob), 404)
    assert [t["id"] for t in client.get("/tasks", headers=bob).json()["tasks"]] == [theirs]
    assert client.get(f"/tasks/{mine}", headers=alice).json()["state"] == "QUEUED"
    # the admin sees both and can cancel either
    assert [t["id"] for t in client.get("/tasks", headers=admin).json()["tasks"]] == [theirs, mine]
    assert client.post(f"/tasks/{mine}:cancel", headers=admin).status_code == 200
    assert client.get(f"/tasks/{mine}", headers=alice).json()["state"] == "CANCELED"
    # the owner is never part of a response
    for view in ("MINIMAL", "BASIC", "FULL"):
        body = client.get(f"/tasks/{mine}", params={"view": view}, headers=admin).json()
        assert "owner" not in body and "alice" not in str(body)


def test_basic_users_see_only_their_tasks_and_the_admin_sees_all(basic_client: TestClient) -> None:
    """One Basic user can neither see nor cancel another's task; a configured admin user can."""
    _ownership(basic_client, basic("alice"), basic("bob"), basic("root"))


def test_jwt_subjects_see_only_their_tasks_and_the_admin_role_sees_all(
    jwt_client: TestClient, make_token: Callable
) -> None:
    """Owners are JWT subjects; a token with the admin role claim sees every task."""
    _ownership(jwt_client, make_token("alice"), make_token("bob"), make_token("ops", roles=["tes-admin"]))


def test_owner_is_stored_with_the_task(basic_client: TestClient, task_store: store.Store) -> None:
    """The store records the creating principal and filters on it."""
    task_id = basic_client.post("/tasks", json=TASK, headers=basic("alice")).json()["id"]
    assert task_store.get_task(task_id, owner="basic:alice") is not None
    assert task_store.get_task(task_id, owner="basic:bob") is None
    assert task_store.get_task(task_id, owner="jwt:alice") is None


def test_settings_refuse_incomplete_auth_configuration() -> None:
    """basic without a file, jwt without JWKS/issuer/audience, an unknown mode: refused at start."""
    for kwargs in ({"mode": "basic"}, {"mode": "jwt", "issuer": ISSUER}, {"mode": "ldap"}):
        with pytest.raises(ValueError):
            AuthSettings(**kwargs)
    assert dataclasses.replace(AuthSettings(), mode="none").mode == "none"
