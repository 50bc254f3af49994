"""Both official SDKs, unmodified, run an application-shaped story against the mock's gRPC face.

The story: create an organization, add a user to it, list its users, update the user, delete the user and
the organization, each answered from the mock's store; the Python SDK also creates an organization client,
authenticates with its secret and calls the API with exactly the scopes it was given. The Python SDK runs in
this process, the Node SDK as ``node tests/node/sdk_story.mjs`` (one JSON line per step). Skipped without
an SDK (``pip install 'scalekit-mock[drivers]'``, ``python -m contract_tests.drivers.install``) unless
``SCALEKIT_REQUIRE_DRIVERS=1`` (CI), which makes a missing SDK a failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract_tests.drivers.catalog import NODE_SDK_DIR, ShippedDriver, by_key
from contract_tests.drivers.install import drivers_required
from mock_server import MockServer
from mock_server.servers.tls import TlsFiles, throwaway_files

NODE_STORY = Path(__file__).resolve().parent / "node" / "sdk_story.mjs"
ORG_ID = re.compile(r"org_\d+")
USER_ID = re.compile(r"usr_\d+")
CALL_TIMEOUT = 10.0  # seconds per SDK call: a story that hangs fails instead
NODE_TIMEOUT = 60.0  # the whole Node story, node's start-up included (it takes about a second)

ORGS = "scalekit.v1.organizations.OrganizationService/"
USERS = "scalekit.v1.users.UserService/"
# The RPCs of the organization/user story, in order, with the status the journal records for each.
STORY_RPCS = [
    (ORGS + "CreateOrganization", 200), (ORGS + "GetOrganization", 200),
    (USERS + "CreateUserAndMembership", 200), (USERS + "ListOrganizationUsers", 200),
    (USERS + "UpdateUser", 200), (USERS + "GetUser", 200), (USERS + "DeleteUser", 200),
    (USERS + "GetUser", 404), (USERS + "ListOrganizationUsers", 200),
    (ORGS + "DeleteOrganization", 200), (ORGS + "GetOrganization", 404),
]


def available(key: str) -> ShippedDriver:
    """The shipped driver's SDK, or a skip (a failure under ``SCALEKIT_REQUIRE_DRIVERS=1``) when it is missing."""
    driver = by_key(key)
    missing = driver.missing()
    if missing is not None:
        if drivers_required():
            pytest.fail(f"{driver.key}: {missing} (SCALEKIT_REQUIRE_DRIVERS=1)")
        pytest.skip(missing)
    return driver


def rpcs(mock: MockServer) -> list[tuple[str, int]]:
    """The API calls the mock served, as (RPC, status); every one of them must have come over gRPC."""
    calls = mock.journal(endpoint="api")
    assert {e["transport"] for e in calls} == {"grpc"}
    return [(e["extra"].get("rpc", e["path"].lstrip("/")), e["status"]) for e in calls]


# -- the Python SDK, in this process -------------------------------------------------------------------
@pytest.fixture(scope="session")
def process_tls() -> Iterator[TlsFiles]:
    """One certificate for every TLS mock the Python SDK meets in this process: grpc-core reads its roots
    (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``) once, at the first secure channel, so a second throwaway CA
    would never be trusted."""
    files = throwaway_files()
    yield files
    files.remove()


@pytest.fixture
def python_mock(process_tls: TlsFiles, monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    driver = available("python-sdk")
    with MockServer(grpc=driver.grpc, tls=driver.tls, tls_cert=process_tls.cert_file,
                    tls_key=process_tls.key_file) as mock:
        for name, value in mock.trust_env.items():  # requests and grpc-core read these
            monkeypatch.setenv(name, value)
        yield mock
        mock.check()


def answer(result: Any) -> Any:
    """The response message of an SDK call (``grpc_exec`` hands back grpc's ``with_call`` pair)."""
    return result[0] if isinstance(result, tuple) else result


def python_client(mock: MockServer, client_id: str, secret: str) -> Any:
    from scalekit import ScalekitClient

    return ScalekitClient(mock.url, client_id, secret, call_timeout_s=CALL_TIMEOUT)  # fetches its token here


def close(client: Any) -> None:
    client.core_client.grpc_secure_channel.close()


def test_python_sdk_creates_lists_updates_and_deletes_an_organization_user(python_mock: MockServer) -> None:
    from scalekit.common.exceptions import ScalekitNotFoundException
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization
    from scalekit.v1.users.users_pb2 import CreateUser, CreateUserProfile, UpdateUser, UpdateUserProfile

    sdk = python_client(python_mock, python_mock.client_id, python_mock.client_secret)
    try:
        created = answer(sdk.organization.create_organization(
            CreateOrganization(display_name="Python Story Corp", external_id="py-story-1"))).organization
        assert ORG_ID.fullmatch(created.id), created.id
        assert (created.display_name, created.external_id) == ("Python Story Corp", "py-story-1")
        org_id = created.id
        assert answer(sdk.organization.get_organization(org_id)).organization.display_name == "Python Story Corp"

        user = answer(sdk.users.create_user_and_membership(org_id, CreateUser(
            email="py.story@example.com", user_profile=CreateUserProfile(first_name="Ada", last_name="Lovelace"),
            metadata={"plan": "free"}), send_invitation_email=False)).user
        assert USER_ID.fullmatch(user.id), user.id
        assert [m.organization_id for m in user.memberships] == [org_id]
        assert (user.email, user.user_profile.first_name, dict(user.metadata)) == \
            ("py.story@example.com", "Ada", {"plan": "free"})

        listed = answer(sdk.users.list_organization_users(org_id, page_size=10))
        assert [u.id for u in listed.users] == [user.id] and listed.total_size == 1

        updated = answer(sdk.users.update_user(user.id, UpdateUser(
            user_profile=UpdateUserProfile(first_name="Grace"), metadata={"plan": "pro"}))).user
        assert (updated.id, updated.user_profile.first_name, dict(updated.metadata)) == (user.id, "Grace",
                                                                                         {"plan": "pro"})
        again = answer(sdk.users.get_user(user.id)).user
        assert (again.email, again.user_profile.first_name, dict(again.metadata)) == \
            ("py.story@example.com", "Grace", {"plan": "pro"})

        sdk.users.delete_user(user.id)
        with pytest.raises(ScalekitNotFoundException):
            sdk.users.get_user(user.id)
        assert list(answer(sdk.users.list_organization_users(org_id, page_size=10)).users) == []

        sdk.organization.delete_organization(org_id)
        with pytest.raises(ScalekitNotFoundException):
            sdk.organization.get_organization(org_id)
    finally:
        close(sdk)
    assert rpcs(python_mock) == STORY_RPCS


def test_python_sdk_creates_an_organization_client_that_authenticates_with_its_scopes(
        python_mock: MockServer) -> None:
    from scalekit.common.exceptions import ScalekitForbiddenException
    from scalekit.v1.clients.clients_pb2 import OrganizationClient
    from scalekit.v1.organizations.organizations_pb2 import CreateOrganization

    admin = python_client(python_mock, python_mock.client_id, python_mock.client_secret)
    clients: list[Any] = [admin]
    try:
        org_id = answer(admin.organization.create_organization(
            CreateOrganization(display_name="Deployer Corp"))).organization.id
        created = answer(admin.m2m_client.create_organization_client(
            org_id, OrganizationClient(name="deployer", scopes=["organizations:read"])))
        client_id, secret = created.client.client_id, created.plain_secret
        assert (created.client.organization_id, list(created.client.scopes)) == (org_id, ["organizations:read"])
        assert secret and [s.secret_suffix for s in created.client.secrets] == [secret[-4:]]

        # GetOrganization needs organizations:read (fixtures/routes.tsv): the client was given exactly that.
        deployer = python_client(python_mock, client_id, secret)
        clients.append(deployer)
        assert answer(deployer.organization.get_organization(org_id)).organization.display_name == "Deployer Corp"
        with pytest.raises(ScalekitForbiddenException):  # CreateOrganization needs organizations:write
            deployer.organization.create_organization(CreateOrganization(display_name="Not allowed"))

        # A second secret authenticates too.
        added = answer(admin.m2m_client.add_organization_client_secret(org_id, client_id))
        assert added.plain_secret not in ("", secret) and added.secret.secret_suffix == added.plain_secret[-4:]
        rotated = python_client(python_mock, client_id, added.plain_secret)
        clients.append(rotated)
        assert answer(rotated.organization.get_organization(org_id)).organization.id == org_id
    finally:
        for client in clients:
            close(client)

    issued = [e for e in python_mock.journal(endpoint="token") if e["client_id"] == client_id]
    assert [(e["status"], e["outcome"]) for e in issued] == [(200, "issued"), (200, "issued")]
    by_client = [(e["extra"].get("rpc"), e["status"]) for e in python_mock.journal(endpoint="api")
                 if e["client_id"] == client_id]
    assert by_client == [(ORGS + "GetOrganization", 200), (ORGS + "CreateOrganization", 403),
                         (ORGS + "GetOrganization", 200)]
    assert secret not in json.dumps(python_mock.journal())  # the handed-out secret stays out of the journal


# -- the Node SDK, in a node process -------------------------------------------------------------------
def test_node_sdk_creates_lists_updates_and_deletes_an_organization_user() -> None:
    driver = available("node-sdk")
    with MockServer(grpc=driver.grpc, tls=driver.tls) as mock:
        done = subprocess.run(["node", str(NODE_STORY), str(NODE_SDK_DIR)], capture_output=True, text=True,
                              env={**os.environ, **mock.env, **mock.trust_env}, timeout=NODE_TIMEOUT, check=False)
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        steps = {line["step"]: line for line in lines}
        failed = [line for line in lines if not line["ok"]]
        assert done.returncode == 0 and not failed, f"{failed or lines}\n{done.stderr[-3000:]}"

        org = steps["create_organization"]
        assert ORG_ID.fullmatch(org["id"]), org
        assert (org["displayName"], org["externalId"]) == ("Node Story Corp", "node-story-1")
        assert steps["get_organization"]["displayName"] == "Node Story Corp"
        user = steps["create_user"]
        assert USER_ID.fullmatch(user["id"]), user
        assert (user["email"], user["memberships"], user["firstName"], user["metadata"]) == \
            ("node.story@example.com", [org["id"]], "Ada", {"plan": "free"})
        assert (steps["list_users"]["ids"], steps["list_users"]["totalSize"]) == ([user["id"]], 1)
        assert (steps["update_user"]["firstName"], steps["update_user"]["metadata"]) == ("Grace", {"plan": "pro"})
        assert (steps["get_user"]["firstName"], steps["get_user"]["metadata"]) == ("Grace", {"plan": "pro"})
        assert steps["get_deleted_user"]["notFound"], steps["get_deleted_user"]
        assert steps["list_users_after_delete"]["ids"] == []
        assert steps["get_deleted_organization"]["notFound"], steps["get_deleted_organization"]
        assert list(steps) == ["create_organization", "get_organization", "create_user", "list_users",
                               "update_user", "get_user", "delete_user", "get_deleted_user",
                               "list_users_after_delete", "delete_organization", "get_deleted_organization"]
        # The SDK fetches its token lazily: its first RPC goes out without one, is refused with 16
        # UNAUTHENTICATED "Token empty", and is sent again with the token (see tests/test_node_sdk_driver.py).
        tokenless = mock.journal(endpoint="api")[0]
        assert (tokenless["status"], tokenless["outcome"], tokenless["token"]) == (401, "token_empty", None)
        assert rpcs(mock) == [(ORGS + "CreateOrganization", 401), *STORY_RPCS]
        mock.check()
