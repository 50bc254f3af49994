"""The same resource stories as ``test_resources.py``, over gRPC: the one store answers both faces.

Each REST step of a story is sent as its RPC (the route's request message, built as grpc-gateway builds it from the
REST request, encoded with the gRPC face's descriptor set) through a real gRPC client (grpcio), and the answer is
read back as a message. What gRPC creates, REST reads, and the other way round.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from google.protobuf import json_format
from helpers import get_token
from test_resources import ORG, SEED_ORG, STORIES, Story

from mock_server import MockServer
from mock_server.faces.messages import catalog
from mock_server.pipeline.request import Request

if os.environ.get("SCALEKIT_REQUIRE_DRIVERS") != "1":
    pytest.importorskip("grpc", reason="grpcio comes with the 'drivers' extra")
import grpc


class GrpcApi:
    """REST-shaped steps sent as their RPCs; answers as (gRPC status code, response message as a dict)."""

    def __init__(self, mock: MockServer, channel: grpc.Channel) -> None:
        self.mock, self.channel = mock, channel
        self.token = get_token(mock)

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[grpc.StatusCode, dict[str, Any]]:
        url = urlsplit(path)
        route, _ = self.mock.control.routes.match(method, url.path)
        assert route is not None, (method, path)
        raw = json.dumps(body).encode() if body is not None else b""
        message = self.mock.control.resources.rest_message(route, Request(method, url.path, url.query,
                                                                          body=raw, length=len(raw)))
        rpc = catalog().rpc(route.rpc)
        stub = self.channel.unary_unary(f"/{route.rpc}", request_serializer=None, response_deserializer=None)
        request = json_format.ParseDict(message, rpc.request()).SerializeToString()
        try:
            answer = stub(request, metadata=[("authorization", f"Bearer {self.token}")], timeout=10)
        except grpc.RpcError as error:
            return error.code(), {"message": error.details()}
        return grpc.StatusCode.OK, json_format.MessageToDict(rpc.response.FromString(answer),
                                                             preserving_proto_field_name=True)


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(grpc=True) as mock:
        yield mock


@pytest.fixture
def api(server: MockServer) -> Iterator[GrpcApi]:
    server.reset()
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield GrpcApi(server, channel)
    server.check()


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_a_created_resource_can_be_read_listed_updated_and_deleted_over_grpc(api: GrpcApi, story: Story) -> None:
    path, body = story.create
    code, created = api("POST", path, body)
    assert code == grpc.StatusCode.OK, created
    resource = created[story.wrapper]
    key = resource[story.key]
    assert all(resource[k] == v for k, v in body.items() if k in resource)
    item = story.item.format(key=key)

    assert api("GET", item) == (grpc.StatusCode.OK, {story.wrapper: resource})
    if story.listing:
        assert key in [r[story.key] for r in api("GET", story.listing)[1][story.list_field]]
    if story.update:
        method, change = story.update
        code, updated = api(method, item, change)
        assert code == grpc.StatusCode.OK and all(updated[story.wrapper][k] == v for k, v in change.items())
    assert api("DELETE", item)[0] == grpc.StatusCode.OK
    code, gone = api("GET", item)
    assert code == grpc.StatusCode.NOT_FOUND and gone["message"].endswith("not found")


def test_what_grpc_creates_rest_reads_and_the_other_way_round(api: GrpcApi) -> None:
    _, created = api("POST", "/api/v1/organizations", {"display_name": "Cross Faces", "external_id": "x-faces"})
    org = created["organization"]["id"]
    rest = requests.Session()
    rest.headers["Authorization"] = f"Bearer {api.token}"
    assert rest.get(f"{api.mock.url}/api/v1/organizations/{org}").json()["organization"]["external_id"] == "x-faces"

    made = rest.post(f"{api.mock.url}{ORG}/users", json={"email": "both@faces.example"}).json()["user"]["id"]
    assert api("GET", f"/api/v1/users/{made}")[1]["user"]["email"] == "both@faces.example"


def test_grpc_errors_carry_the_message_that_names_the_field(api: GrpcApi) -> None:
    code, answer = api("POST", "/api/v1/organizations", {"external_id": "no-name"})
    assert (code, answer["message"]) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid display_name: value is required")

    api("POST", "/api/v1/organizations", {"display_name": "A", "external_id": "taken"})
    code, answer = api("POST", "/api/v1/organizations", {"display_name": "B", "external_id": "taken"})
    assert code == grpc.StatusCode.ALREADY_EXISTS and "external_id" in answer["message"]
    assert api("GET", f"/api/v1/organizations/{SEED_ORG}/users/usr_0/roles")[0] == grpc.StatusCode.NOT_FOUND
