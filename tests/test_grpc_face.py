"""The gRPC face (``MockServer(grpc=True)``) through a real gRPC client (grpcio, raw bytes), and its protobuf.

The same core as REST: authentication, permissions, faults, revocation and the journal. Messages are
checked against the Scalekit SDK's generated classes where that package is installed (the face itself
never imports it).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import get_token
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import MockServer
from mock_server.core.errors import ApiError
from mock_server.faces import protobuf as pb
from mock_server.faces.grpc import GrpcAnswer, decode_request, unframe
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


def status_of(error: grpc.RpcError) -> dict[str, Any]:
    """The google.rpc.Status of the grpc-status-details-bin trailer, decoded with the face's own reader."""
    raw = dict(error.trailing_metadata())["grpc-status-details-bin"]
    fields = {n: v for n, _, v in pb.fields(raw)}
    detail = {n: v for n, _, v in pb.fields(fields[3])}
    info = {n: v for n, _, v in pb.fields(detail[2])}
    return {"code": fields[1], "message": fields[2].decode(), "type_url": detail[1].decode(),
            "error_code": info[1].decode()}


# -- protobuf ---------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**63 - 1, -1, -(2**31)])
def test_varints_round_trip(value: int) -> None:
    encoded = pb.int_field(1, value)
    decoded = pb.read_message(encoded, {1: ("v", "int32")})
    assert decoded.get("v", 0) == value


def test_truncated_messages_are_refused() -> None:
    for broken in (b"\x0a\x05ab", b"\x08\xff", b"\x0f", b"\x00\x01"):
        with pytest.raises(pb.DecodeError):
            list(pb.fields(broken))


@settings(max_examples=300, deadline=None)
@given(message=st.binary(max_size=64), method=st.sampled_from(["ListOrganization", "GetOrganization", "ListUsers"]))
def test_any_request_bytes_decode_or_are_invalid_argument(message: bytes, method: str) -> None:
    """Whatever a client sends as a message, the face answers a status: never an unexpected exception."""
    try:
        decoded = decode_request(method, message)
    except ApiError as error:
        assert error.key == "invalid_argument"
    else:
        assert isinstance(decoded, dict)


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


def test_messages_match_the_sdk_generated_classes() -> None:
    """The hard-coded field numbers agree with the official SDK's .proto (where the SDK is installed)."""
    if not REQUIRED:
        pytest.importorskip("scalekit", reason="scalekit-sdk-python comes with the 'drivers' extra")
    from google.rpc import status_pb2
    from scalekit.v1.errdetails import errdetails_pb2
    from scalekit.v1.organizations import organizations_pb2

    mock = MockServer()
    page = mock.control.organizations.page(3, "")
    listed = organizations_pb2.ListOrganizationsResponse.FromString(pb.list_organizations_response(page))
    assert listed.total_size == page["total_size"] and listed.next_page_token == page["next_page_token"]
    assert [o.id for o in listed.organizations] == [o["id"] for o in page["organizations"]]
    org, fixture = listed.organizations[0], page["organizations"][0]
    assert org.display_name == fixture["display_name"] and org.external_id == fixture["external_id"]
    assert org.region_code == 1  # US
    assert [(f.name, f.enabled) for f in org.settings.features] == \
        [(f["name"], f["enabled"]) for f in fixture["settings"]["features"]]
    assert org.create_time.ToJsonString() == fixture["create_time"]
    got = organizations_pb2.GetOrganizationResponse.FromString(
        pb.get_organization_response(mock.control.organizations.get(FIRST_ORG)))
    assert got.organization.id == FIRST_ORG
    request = organizations_pb2.ListOrganizationsRequest(page_size=7, page_token="3").SerializeToString()
    assert pb.read_message(request, pb.LIST_ORGANIZATIONS_REQUEST) == {"page_size": 7, "page_token": "3"}
    status = status_pb2.Status.FromString(pb.status_details(16, "Token empty", "type.googleapis.com/"
                                                            "scalekit.v1.errdetails.ErrorInfo", "UNAUTHENTICATED"))
    info = errdetails_pb2.ErrorInfo()
    assert status.code == 16 and status.message == "Token empty" and status.details[0].Unpack(info)
    assert info.error_code == "UNAUTHENTICATED"


# -- calls --------------------------------------------------------------------------------------
def test_list_and_get_answer_sample_data(mock: MockServer, channel: grpc.Channel) -> None:
    token = get_token(mock)
    request = pb.int_field(1, 2)  # page_size = 2
    response, result = call(channel, LIST, request, token)
    fields = list(pb.fields(response))
    assert [n for n, _, _ in fields].count(3) == 2  # two organizations
    assert result.code() == grpc.StatusCode.OK
    response, _ = call(channel, GET, pb.str_field(1, FIRST_ORG), token)
    organization = dict((n, v) for n, _, v in pb.fields(dict((n, v) for n, _, v in pb.fields(response))[1]))
    assert organization[1] == FIRST_ORG.encode()
    entries = mock.journal(endpoint="api")
    assert [(e["transport"], e["status"], e["outcome"], e["extra"]["rpc"].rsplit("/", 1)[1]) for e in entries] == \
        [("grpc", 200, "ok", "ListOrganization"), ("grpc", 200, "ok", "GetOrganization")]
    assert token not in repr(entries) and entries[0]["headers"]["authorization"].startswith("Bearer fp:")


def test_other_methods_answer_an_empty_message(mock: MockServer, channel: grpc.Channel) -> None:
    response, _ = call(channel, "/scalekit.v1.users.UserService/ListUsers", b"", get_token(mock))
    assert response == b""


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


def test_bad_messages_are_invalid_argument(mock: MockServer, channel: grpc.Channel) -> None:
    error = failure(channel, GET, b"\x0a\x09short", get_token(mock))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = failure(channel, GET, pb.str_field(1, "org_nope"), get_token(mock))
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
    assert failure(channel, GET, pb.str_field(1, FIRST_ORG), token).code() == grpc.StatusCode.PERMISSION_DENIED
    mock.add_fault("drop", endpoint="api")
    assert failure(channel, LIST, b"", token).code() == grpc.StatusCode.UNAVAILABLE
    assert mock.journal(endpoint="api")[-1]["outcome"] == "drop"
    call(channel, LIST, b"", token)  # and the server goes on serving


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
