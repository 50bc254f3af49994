"""The gRPC face (``MockServer(grpc=True)``) through a real gRPC client (grpcio, raw bytes).

The same core as REST: authentication, permissions, faults, revocation, the resources and the journal. The
messages are built and read with the face's own descriptor set (``faces/messages.py``, tested in
``test_messages.py``, where they are also checked against the Scalekit SDK's generated classes).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.protobuf import json_format
from helpers import get_token

from mock_server import MockConfig, MockServer, ServerError
from mock_server.core.data import fixtures_dir
from mock_server.core.errors import ApiError
from mock_server.faces import grpc as grpc_face
from mock_server.faces.grpc import GrpcAnswer, _rest_path, unframe
from mock_server.faces.messages import catalog
from mock_server.pipeline.pipeline import Dropped

REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"
if not REQUIRED:
    pytest.importorskip("grpc", reason="grpcio comes with the 'drivers' extra")
import grpc  # noqa: E402

ORG_SERVICE = "/scalekit.v1.organizations.OrganizationService/"
LIST, GET = ORG_SERVICE + "ListOrganization", ORG_SERVICE + "GetOrganization"
FIRST_ORG = "org_59615193906282635"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(grpc=True) as mock:
        yield mock


@pytest.fixture
def mock(server: MockServer) -> Iterator[MockServer]:
    server.reset()
    yield server
    server.check()


@pytest.fixture
def channel(mock: MockServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{mock.port}") as chan:
        yield chan


def call(channel: grpc.Channel, method: str, message: bytes = b"", token: str | None = None,
         metadata: list[tuple[str, str]] | None = None) -> tuple[bytes, Any]:
    stub = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    pairs = list(metadata or []) + ([("authorization", f"Bearer {token}")] if token else [])
    response, result = stub.with_call(message, metadata=pairs, timeout=10)
    return response, result


def failure(channel: grpc.Channel, method: str, message: bytes = b"", token: str | None = None,
            metadata: list[tuple[str, str]] | None = None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(channel, method, message, token, metadata)
    return caught.value


def request(method: str, **fields: Any) -> bytes:
    """The request message of ``method`` with these fields."""
    return catalog().rpc(method[1:]).request(**fields).SerializeToString()


def response(method: str, data: bytes) -> dict[str, Any]:
    """The response message of ``method`` in its JSON form."""
    message = catalog().rpc(method[1:]).response.FromString(data)
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def status_of(error: grpc.RpcError) -> dict[str, Any]:
    """The google.rpc.Status of the grpc-status-details-bin trailer and the ErrorInfo it carries."""
    raw = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = catalog().message_class("google.rpc.Status").FromString(raw)
    [detail] = status.details
    info = catalog().message_class("scalekit.v1.errdetails.ErrorInfo").FromString(detail.value)
    return {"code": status.code, "message": status.message, "type_url": detail.type_url,
            "error_code": info.error_code}


# -- framing and fault paths --------------------------------------------------------------------
def test_unframe_checks_the_length_prefix_and_compression() -> None:
    assert unframe(b"\x00\x00\x00\x00\x02\x08\x01") == b"\x08\x01"
    for broken, key in ((b"\x00\x00", "invalid_argument"), (b"\x00\x00\x00\x00\x05\x08", "invalid_argument"),
                        (b"\x01\x00\x00\x00\x00", "grpc_unimplemented")):
        with pytest.raises(ApiError) as caught:
            unframe(broken)
        assert caught.value.key == key


def test_trailers_percent_encode_the_message_and_carry_unpadded_details() -> None:
    answer = GrpcAnswer(16, "Token empty: 100% ü", details=b"\x08\x10")
    trailers = dict(answer.trailers())
    assert trailers[b"grpc-status"] == b"16"
    assert trailers[b"grpc-message"] == b"Token empty: 100%25 %C3%BC"
    assert base64.b64decode(trailers[b"grpc-status-details-bin"] + b"==") == b"\x08\x10"


def test_the_rest_path_of_a_call_fills_every_parameter_the_message_has() -> None:
    assert _rest_path("/api/v1/organizations/{id}", {"id": "org_1"}) == "/api/v1/organizations/org_1"
    assert _rest_path("/api/v1/organizations/{organization_id}/users/{id}", {"organization_id": "org_1"}) == \
        "/api/v1/organizations/org_1/users/{id}"
    assert _rest_path("/api/v1/x/{a.b}/{n}:go", {"a": {"b": "deep"}, "n": 7}) == "/api/v1/x/deep/7:go"
    assert _rest_path("/api/v1/x/{name=**}", {"name": "a/b"}) == "/api/v1/x/a/b"


# -- calls --------------------------------------------------------------------------------------
def test_list_and_get_answer_the_resources(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    listed, result = call(channel, LIST, request(LIST, page_size=10), token)
    assert result.code() == grpc.StatusCode.OK
    page = response(LIST, listed)
    organizations = page["organizations"]
    assert organizations[0]["id"] == FIRST_ORG and len(organizations) == 10 < int(page["total_size"])
    assert page["next_page_token"]
    got, _ = call(channel, GET, request(GET, id=FIRST_ORG), token)
    assert response(GET, got)["organization"] == organizations[0]
    assert organizations[0]["create_time"] == "2025-01-01T00:00:00Z" and organizations[0]["region_code"] == "US"
    entries = mock.journal(endpoint="api")
    assert [(e["transport"], e["status"], e["outcome"], e["extra"]["rpc"].rsplit("/", 1)[1]) for e in entries] == \
        [("grpc", 200, "ok", "ListOrganization"), ("grpc", 200, "ok", "GetOrganization")]
    assert token not in repr(entries) and entries[0]["headers"]["authorization"].startswith("Bearer fp:")


def test_a_created_organization_is_read_back_over_both_faces(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    create = ORG_SERVICE + "CreateOrganization"
    organization = {"display_name": "Over gRPC", "external_id": "ext-grpc"}
    message = json_format.ParseDict({"organization": organization}, catalog().rpc(create[1:]).request())
    created = response(create, call(channel, create, message.SerializeToString(), token)[0])["organization"]
    assert created["display_name"] == "Over gRPC" and created["id"].startswith("org_")
    assert response(GET, call(channel, GET, request(GET, id=created["id"]), token)[0])["organization"] == created
    rest = requests.get(f"{mock.url}/api/v1/organizations/{created['id']}", timeout=5,
                        headers={"Authorization": f"Bearer {token}"})
    assert rest.status_code == 200  # the same answer: as protobuf (which drops empty values), the gRPC one
    assert response(GET, catalog().rpc(GET[1:]).encode_response(rest.json())) == {"organization": created}


def test_an_rpc_the_descriptor_set_lacks_is_answered_with_an_empty_message(tmp_path: Path) -> None:
    routes = (fixtures_dir() / "routes.tsv").read_text()
    (tmp_path / "routes.tsv").write_text(routes + "scalekit.v1.nowhere.NowhereService/Touch\tPOST\t/api/v1/nowhere"
                                         "\t*\tWORKSPACE_SESSION_CLIENT\t\n")
    with MockServer(MockConfig(fixtures_dir=str(tmp_path)), grpc=True) as mock, \
            grpc.insecure_channel(f"127.0.0.1:{mock.port}") as chan:
        answer, result = call(chan, "/scalekit.v1.nowhere.NowhereService/Touch", request(GET, id="x"),
                              get_token(mock))
        assert result.code() == grpc.StatusCode.OK and answer == b""
        error = failure(chan, "/scalekit.v1.nowhere.NowhereService/Touch", b"\x0a\x09short", get_token(mock))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        mock.check()


def test_no_token_is_unauthenticated_with_matching_details(mock: MockServer, channel: grpc.Channel) -> None:
    error = failure(channel, LIST)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error.details() == "Token empty"
    assert status_of(error) == {"code": 16, "message": "Token empty", "error_code": "UNAUTHENTICATED",
                                "type_url": "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo"}
    assert mock.journal(endpoint="api")[-1]["status"] == 401


def test_the_first_of_two_authorization_values_is_the_token(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    call(channel, LIST, b"", metadata=[("authorization", f"Bearer {token}"), ("authorization", "Bearer stale")])
    error = failure(channel, LIST, metadata=[("authorization", "Bearer stale"), ("authorization", f"Bearer {token}")])
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error.details() == "Invalid token"
    assert mock.journal(endpoint="api")[0]["extra"]["authorization_values"].startswith("several")


def test_revoked_and_expired_tokens(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    mock.advance_clock(86400 + 1)
    assert failure(channel, LIST, b"", token).details() == "Token expired"
    fresh = get_token(mock)
    mock.revoke(token=fresh)
    error = failure(channel, LIST, b"", fresh)
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and status_of(error)["message"] == error.details()


def test_missing_permission_is_permission_denied(mock: MockServer, channel: grpc.Channel) -> None:
    limited = mock.limited_client
    assert limited is not None
    token = get_token(mock, limited.client_id, limited.client_secret)
    call(channel, LIST, b"", token)  # organizations:read is enough to list
    denied = next(r for r in mock.control.routes.routes
                  if r.policy == "client" and r.row.permissions and "organizations:read" not in r.row.permissions)
    error = failure(channel, "/" + denied.rpc, b"", token)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and error.details() == "Insufficient permissions"
    assert status_of(error)["error_code"] == "PERMISSION_DENIED" and status_of(error)["code"] == 7
    assert mock.journal(endpoint="api")[-1]["status"] == 403


def test_unknown_methods_are_unimplemented(mock: MockServer, channel: grpc.Channel) -> None:
    for method in ("/scalekit.v1.organizations.OrganizationService/NoSuchMethod", "/nope.Service/X"):
        error = failure(channel, method, b"", get_token(mock))
        assert error.code() == grpc.StatusCode.UNIMPLEMENTED and status_of(error)["code"] == 12


def test_an_answer_that_does_not_fit_its_message_is_internal_and_kept(mock: MockServer, channel: grpc.Channel,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Encoding the resources' answer fails only on the mock's own bug: INTERNAL, and ``check()`` raises it."""
    monkeypatch.setattr(grpc_face, "answer_rpc", lambda *_: (200, {"organization": {"create_time": "yesterday"}}))
    assert failure(channel, GET, request(GET, id=FIRST_ORG), get_token(mock)).code() == grpc.StatusCode.INTERNAL
    with pytest.raises(ServerError, match="ParseError"):
        mock.check()


def test_bad_messages_are_invalid_argument(mock: MockServer, channel: grpc.Channel) -> None:
    error = failure(channel, GET, b"\x0a\x09short", get_token(mock))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and status_of(error)["code"] == 3
    detail = mock.journal(endpoint="api")[-1]["extra"]["detail"]
    assert detail.startswith("the request message is not valid protobuf") and "GetOrganizationRequest" in detail
    error = failure(channel, GET, request(GET, id="org_nope"), get_token(mock))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_faults_become_grpc_statuses(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    mock.add_fault("status", endpoint="api", preset="unavailable")
    error = failure(channel, LIST, b"", token)
    assert error.code() == grpc.StatusCode.UNAVAILABLE and status_of(error)["code"] == 14
    mock.add_fault("status", endpoint="api", preset="rate_limited")
    assert failure(channel, LIST, b"", token).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    mock.add_fault("token_expired", endpoint="api")
    assert failure(channel, LIST, b"", token).details() == "Token expired"
    mock.add_fault("forbidden", endpoint="api", path="/api/v1/organizations/" + FIRST_ORG)
    call(channel, LIST, b"", token)  # another path: untouched
    assert failure(channel, GET, request(GET, id=FIRST_ORG), token).code() == grpc.StatusCode.PERMISSION_DENIED
    mock.add_fault("drop", endpoint="api")
    assert failure(channel, LIST, b"", token).code() == grpc.StatusCode.UNAVAILABLE
    assert mock.journal(endpoint="api")[-1]["outcome"] == "drop"
    call(channel, LIST, b"", token)  # and the server goes on serving


def test_a_redirect_fault_never_matches_a_grpc_call(mock: MockServer, channel: grpc.Channel) -> None:
    # gRPC has no redirects: the call is served, and the fault waits for the next HTTP request it matches.
    token = get_token(mock)
    mock.add_fault("redirect", endpoint="api")
    call(channel, LIST, b"", token)
    assert [f["kind"] for f in mock.control.list_faults()] == ["redirect"]
    assert mock.journal(endpoint="api")[-1]["outcome"] == "ok"
    rest = requests.get(mock.url + "/api/v1/organizations", headers={"Authorization": f"Bearer {token}"},
                        timeout=10, allow_redirects=False)
    assert rest.status_code == 307 and mock.control.list_faults() == []


def test_a_long_lived_connection_is_answered_past_a_thousand_calls(mock: MockServer, channel: grpc.Channel) -> None:
    """No limit of requests per connection (hypercorn's default stopped at 1000); SDKs keep one for hours."""
    token = get_token(mock)
    stub = channel.unary_unary(LIST, request_serializer=None, response_deserializer=None)
    metadata = [("authorization", f"Bearer {token}")]
    for _ in range(1005):
        stub(b"", metadata=metadata, timeout=10)
    assert len(mock.journal(endpoint="api", limit=2000)) == 1005


def test_calls_served_on_the_event_loop_leave_blocking_faults_for_the_pool() -> None:
    """The dispatcher serves a call inline only when no fault is queued; a delay/hang/drop queued in the
    meantime must not block the loop: it stays queued, for the next call (served from the pool)."""
    from mock_server.faces.grpc import GrpcFace

    mock = MockServer(grpc=True)
    face = GrpcFace(mock.app.wsgi_app)  # the journal middleware
    token = mock.control.issuer.issue(mock.control.policy, mock.default_client, None, mock.now()).access_token
    headers = [(b"authorization", f"Bearer {token}".encode())]
    mock.add_fault("drop", endpoint="api")
    answer = face.serve(LIST, headers, b"\x00\x00\x00\x00\x00", may_block=False)
    assert answer.code == 0 and len(mock.control.list_faults()) == 1
    with pytest.raises(Dropped):
        face.serve(LIST, headers, b"\x00\x00\x00\x00\x00")
    assert mock.control.list_faults() == []
    mock.add_fault("forbidden", endpoint="api")  # not blocking: taken inline as usual
    assert face.serve(LIST, headers, b"\x00\x00\x00\x00\x00", may_block=False).code == 7


def test_a_call_is_computation_only_once_the_messages_and_the_resources_are_loaded() -> None:
    """Until the descriptor set and the published document are loaded (the first calls load them, far longer than
    the control plane may wait), the dispatcher serves calls from the pool, never on the event loop."""
    from mock_server.faces.grpc import GrpcFace

    mock = MockServer(grpc=True)
    face = GrpcFace(mock.app.wsgi_app)
    token = mock.control.issuer.issue(mock.control.policy, mock.default_client, None, mock.now()).access_token
    assert not face.computes_only(LIST)

    assert face.serve(LIST, [(b"authorization", f"Bearer {token}".encode())], b"\x00\x00\x00\x00\x00").code == 0

    assert face.computes_only(LIST)
