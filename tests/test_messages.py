"""The gRPC face's messages (``faces/messages.py``): the descriptor set built from the official SDK, read with the
protobuf library, mapped to and from the JSON form the resources speak.

Where scalekit-sdk-python is installed (the 'drivers' extra) the set is checked to be current and the face's
bytes are read back with the SDK's own generated classes; the mock itself never imports the SDK.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.core.data import fixtures_dir, load_fixtures
from mock_server.core.errors import ApiError
from mock_server.faces.messages import Catalog, Rpc, catalog

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("SCALEKIT_REQUIRE_DRIVERS") == "1"
ORGS = "scalekit.v1.organizations.OrganizationService/"
GET, LIST = ORGS + "GetOrganization", ORGS + "ListOrganization"
NOT_IN_SET = "scalekit.v1.nowhere.NowhereService/DoSomething"
ROUTE_RPCS = sorted({row.rpc for row in load_fixtures().routes})
ORGANIZATION = {"id": "org_1", "create_time": "2025-01-01T00:00:00Z", "update_time": "2025-02-02T07:13:00.250Z",
                "display_name": "Acme Corp", "region_code": "EU", "external_id": "ext-1",
                "metadata": {"tier": "gold"}, "settings": {"features": [{"name": "sso", "enabled": True}]}}


def sdk() -> None:
    if not REQUIRED:
        pytest.importorskip("scalekit", reason="scalekit-sdk-python comes with the 'drivers' extra")


def decoded(rpc: Rpc, data: bytes) -> dict[str, Any]:
    """A response message read back in its JSON form."""
    return json_format.MessageToDict(rpc.response.FromString(data), preserving_proto_field_name=True)


def test_the_set_covers_every_rpc_of_the_routes_table() -> None:
    assert len(ROUTE_RPCS) == 444
    assert [rpc for rpc in ROUTE_RPCS if not catalog().covers(rpc)] == []


def test_requests_decode_to_their_json_form() -> None:
    get, listing = catalog().rpc(GET), catalog().rpc(LIST)
    assert get.decode_request(get.request(id="org_1").SerializeToString()) == {"id": "org_1"}
    assert listing.decode_request(listing.request(page_size=10, page_token="2").SerializeToString()) == \
        {"page_size": 10, "page_token": "2"}
    assert listing.decode_request(b"") == {}  # unset fields are left out, as grpc-gateway leaves them


def test_int64_fields_decode_as_strings_and_enums_by_name() -> None:
    migrate = catalog().rpc("scalekit.v1.migrations.MigrationService/MigrateWorkspaceFGA")
    message = migrate.request(workspace_ids=[2**62 + 1]).SerializeToString()
    assert migrate.decode_request(message) == {"workspace_ids": [str(2**62 + 1)]}
    resources = catalog().rpc("scalekit.v1.clients.ClientService/ListResources")
    field = resources.request.DESCRIPTOR.fields_by_name["resource_type"]
    value = field.enum_type.values[1]
    assert resources.decode_request(resources.request(resource_type=value.number).SerializeToString()) == \
        {"resource_type": value.name}


def test_a_response_round_trips_with_timestamps_enums_maps_and_nested_messages() -> None:
    get = catalog().rpc(GET)
    data = get.encode_response({"organization": ORGANIZATION, "not_a_field": 1})  # unknown fields are ignored
    assert decoded(get, data) == {"organization": ORGANIZATION}
    assert get.response.FromString(data).organization.create_time.seconds == 1735689600


def test_a_value_that_does_not_fit_its_field_is_the_mocks_bug() -> None:
    with pytest.raises(json_format.ParseError):
        catalog().rpc(GET).encode_response({"organization": {"create_time": "yesterday"}})


@pytest.mark.parametrize("data", [b"\x0a\x09short", b"\x0a\x02\xff\xfe", b"\x08\xff", b"\x0f"])
def test_malformed_requests_are_invalid_argument(data: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        catalog().rpc(GET).decode_request(data)
    assert caught.value.key == "invalid_argument"
    assert caught.value.detail is not None and caught.value.detail.startswith(
        "the request message is not valid protobuf: ") and "GetOrganizationRequest" in caught.value.detail


def test_a_well_formed_request_without_a_json_form_is_invalid_argument() -> None:
    context = catalog().rpc("scalekit.v1.connections.ConnectionService/UpdateConnectionContext")
    message = context.request()
    message.context["ratio"] = float("nan")
    with pytest.raises(ApiError) as caught:
        context.decode_request(message.SerializeToString())
    assert caught.value.key == "invalid_argument" and "no JSON form" in str(caught.value.detail)


def test_an_rpc_the_set_lacks_reads_any_well_formed_message_and_answers_an_empty_one() -> None:
    assert not catalog().covers(NOT_IN_SET)
    unknown = catalog().rpc(NOT_IN_SET)
    assert unknown.decode_request(catalog().rpc(GET).request(id="org_1").SerializeToString()) == {}
    assert unknown.encode_response({"anything": [1, 2]}) == b""
    with pytest.raises(ApiError) as caught:
        unknown.decode_request(b"\x0a\x09short")
    assert caught.value.key == "invalid_argument"


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=64), name=st.sampled_from([*ROUTE_RPCS, NOT_IN_SET]))
def test_any_request_bytes_decode_or_are_invalid_argument(data: bytes, name: str) -> None:
    """Whatever a client sends as a message, the face answers a status: never an unexpected exception."""
    try:
        message = catalog().rpc(name).decode_request(data)
    except ApiError as error:
        assert error.key == "invalid_argument"
    else:
        assert isinstance(message, dict)


def test_the_catalog_is_loaded_once_into_a_pool_of_its_own() -> None:
    from google.protobuf import descriptor_pool

    assert catalog() is catalog() and catalog().pool is not descriptor_pool.Default()
    fresh = Catalog((fixtures_dir() / "scalekit-v1.binpb").read_bytes())  # a second pool: no name clashes
    assert fresh.rpc(GET).request is not catalog().rpc(GET).request


def test_neither_the_sdk_nor_protobuf_is_imported_until_a_grpc_call() -> None:
    code = ("import sys, mock_server\n"
            "from mock_server.servers import asgi\n"
            "assert not [m for m in sys.modules if m.startswith('google.protobuf')], 'protobuf imported early'\n"
            "from mock_server.faces.messages import catalog\n"
            "catalog().rpc('" + GET + "')\n"
            "assert not [m for m in sys.modules if m.startswith('scalekit')], 'the SDK was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_status_details_decode_with_the_sdks_classes() -> None:
    sdk()
    from google.rpc import status_pb2
    from scalekit.v1.errdetails import errdetails_pb2

    type_url = load_fixtures().errors["error_info_type"]
    raw = catalog().status_details(16, "Token empty", type_url, "UNAUTHENTICATED")
    status, info = status_pb2.Status.FromString(raw), errdetails_pb2.ErrorInfo()
    assert status.code == 16 and status.message == "Token empty"
    assert status.details[0].type_url == type_url and status.details[0].Unpack(info)
    assert info.error_code == "UNAUTHENTICATED"


def test_the_sdk_reads_the_faces_messages_and_the_face_reads_the_sdks() -> None:
    sdk()
    from scalekit.v1.organizations import organizations_pb2

    get = catalog().rpc(GET)
    answer = organizations_pb2.GetOrganizationResponse.FromString(get.encode_response({"organization": ORGANIZATION}))
    org = answer.organization
    assert (org.id, org.display_name, org.external_id) == ("org_1", "Acme Corp", "ext-1")
    assert org.region_code == org.DESCRIPTOR.fields_by_name["region_code"].enum_type.values_by_name["EU"].number
    assert org.create_time.ToJsonString() == ORGANIZATION["create_time"] and dict(org.metadata) == {"tier": "gold"}
    assert [(f.name, f.enabled) for f in org.settings.features] == [("sso", True)]
    request = organizations_pb2.ListOrganizationsRequest(page_size=10, page_token="3").SerializeToString()
    assert catalog().rpc(LIST).decode_request(request) == {"page_size": 10, "page_token": "3"}


def test_the_descriptor_set_is_what_the_installed_sdk_gives() -> None:
    """``scripts/build_descriptor_set.py --check``: a new SDK (or a hand-edited set) needs the script run again."""
    sdk()
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_descriptor_set.py"), "--check"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
