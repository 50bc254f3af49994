"""The domain core without Flask or HTTP: clock, routes, keys, clients, config and fault specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mock_server import Client, ConfigError, ControlError, ControlPlane, MockConfig
from mock_server.core.clients import client_from_mapping
from mock_server.core.clock import VirtualClock
from mock_server.core.control import default_clients
from mock_server.core.data import RouteRow, load_fixtures
from mock_server.core.errors import ApiError
from mock_server.core.faults import FaultQueue, fault_from_mapping
from mock_server.core.keys import KeyRing, SigningKey
from mock_server.core.routes import RouteTable

FIXTURES = load_fixtures()
PRESETS = FIXTURES.faults["presets"]
HANG_MAX = float(FIXTURES.faults["hang_max_seconds"])


class FakeTime:
    """A settable time source for ``VirtualClock``."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- VirtualClock -------------------------------------------------------------------------------


def test_clock_reads_source_plus_offset() -> None:
    source = FakeTime(500.0)
    clock = VirtualClock(source)
    assert clock.now() == 500.0
    source.now = 520.0
    assert clock.now() == 520.0
    assert clock.offset == 0.0


def test_clock_advance_moves_forward() -> None:
    source = FakeTime(500.0)
    clock = VirtualClock(source)
    assert clock.advance(100) == 600.0
    assert clock.advance(0.5) == 600.5
    source.now = 510.0
    assert clock.now() == 610.5
    assert clock.offset == 100.5


def test_clock_set_jumps_to_timestamp_and_then_follows_source() -> None:
    source = FakeTime(500.0)
    clock = VirtualClock(source)
    assert clock.set(2_000.0) == 2_000.0
    assert clock.offset == 1_500.0
    source.now = 501.0
    assert clock.now() == 2_001.0
    assert clock.set(100.0) == 100.0  # set may go backward


def test_clock_reset_drops_offset() -> None:
    clock = VirtualClock(FakeTime(500.0))
    clock.advance(3_600)
    clock.reset()
    assert clock.now() == 500.0
    assert clock.offset == 0.0


def test_clock_negative_advance_refused_and_clock_unchanged() -> None:
    clock = VirtualClock(FakeTime(500.0))
    clock.advance(10)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    assert clock.now() == 510.0


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 1e300])
def test_control_plane_advance_out_of_range_refused(seconds: float) -> None:
    plane = ControlPlane(clock=VirtualClock(FakeTime(1_700_000_000.0)))
    with pytest.raises(ControlError):
        plane.advance_clock(seconds)
    assert plane.now() == 1_700_000_000.0


@pytest.mark.parametrize("timestamp", [float("nan"), float("-inf"), -1.0, 1e300])
def test_control_plane_set_out_of_range_refused(timestamp: float) -> None:
    plane = ControlPlane(clock=VirtualClock(FakeTime(1_700_000_000.0)))
    with pytest.raises(ControlError):
        plane.set_clock(timestamp)
    assert plane.now() == 1_700_000_000.0


# -- RouteTable ---------------------------------------------------------------------------------

ROUTES = RouteTable(FIXTURES.routes, FIXTURES.auth_policies)
ORG_SERVICE = "scalekit.v1.organizations.OrganizationService/"
CONNECTIONS = "scalekit.v1.connections.ConnectionService/"


@pytest.mark.parametrize(("method", "path", "rpc"), [
    ("GET", "/api/v1/organizations", ORG_SERVICE + "ListOrganization"),
    ("POST", "/api/v1/organizations", ORG_SERVICE + "CreateOrganization"),
    ("GET", "/api/v1/organizations:search", ORG_SERVICE + "SearchOrganization"),
    ("GET", "/api/v1/organizations/org_123", ORG_SERVICE + "GetOrganization"),
    ("DELETE", "/api/v1/organizations/org_123", ORG_SERVICE + "DeleteOrganization"),
    ("GET", "/api/v1/organizations:external/ext-9", ORG_SERVICE + "GetOrganizationByExternalId"),
    ("PATCH", "/api/v1/organizations/org_1/connections/conn_1:enable", CONNECTIONS + "EnableConnection"),
    ("PATCH", "/api/v1/organizations/org_1/connections/conn_1", CONNECTIONS + "UpdateConnection"),
    ("GET", "/api/v1/organizations/-/connections", CONNECTIONS + "ListOrganizationConnections"),
    ("GET", "/api/v1/organizations/-/connections:search", CONNECTIONS + "SearchOrganizationConnections"),
    ("GET", "/api/v1/webhooks/wb/a/b/c", "scalekit.v1.webhooks.WebhookService/WebhookWrapper"),
    ("GET", "/api/v1/trigger-delivery/wb/x", "scalekit.v1.triggers.TriggerService/TriggerWebhookWrapper"),
])
def test_routes_fixture_table_matches(method: str, path: str, rpc: str) -> None:
    route, known = ROUTES.match(method, path)
    assert route is not None and route.rpc == rpc
    assert known is True


@pytest.mark.parametrize(("method", "path", "known"), [
    ("PUT", "/api/v1/organizations:search", True),  # the path exists: 405
    ("DELETE", "/api/v1/organizations", True),
    ("POST", "/api/v1/organizations/org_1/connections/conn_1:enable", True),
    ("GET", "/api/v1/nothing-here", False),  # no such path: 404
    ("GET", "/api/v2/organizations", False),
    ("GET", "/api/v1/organizations/org_1/no-such-collection", False),
    ("GET", "/api/v1/organizations:nosuchverb", False),
])
def test_routes_fixture_table_unmatched(method: str, path: str, known: bool) -> None:
    assert ROUTES.match(method, path) == (None, known)


SYNTHETIC = RouteTable([
    RouteRow("svc/List", "GET", "/v1/things", "", "CLIENT", ("things:read",)),
    RouteRow("svc/Search", "GET", "/v1/things:search", "", "CLIENT", ("things:read",)),
    RouteRow("svc/Get", "GET", "/v1/things/{id}", "", "CLIENT", ("things_read", "things:read")),
    RouteRow("svc/Update", "PATCH", "/v1/things/{thing.id}", "*", "CLIENT", ("things:write",)),
    RouteRow("svc/Enable", "POST", "/v1/things/{id}:enable", "", "CLIENT", ("things:write",)),
    RouteRow("svc/Files", "GET", "/v1/files/**", "", "NONE", ()),
], {"CLIENT": "client", "NONE": "none"})


@pytest.mark.parametrize(("method", "path", "rpc"), [
    ("GET", "/v1/things", "svc/List"),
    ("GET", "/v1/things:search", "svc/Search"),
    ("GET", "/v1/things/t-1", "svc/Get"),
    ("PATCH", "/v1/things/t-1", "svc/Update"),
    ("POST", "/v1/things/t-1:enable", "svc/Enable"),
    ("GET", "/v1/files/a/b/c.txt", "svc/Files"),
])
def test_routes_synthetic_match(method: str, path: str, rpc: str) -> None:
    route, _ = SYNTHETIC.match(method, path)
    assert route is not None and route.rpc == rpc


@pytest.mark.parametrize(("method", "path", "known"), [
    ("GET", "/v1/things/a/b", False),  # a {param} is one segment
    ("GET", "/v1/files", False),  # ** needs something after it
    ("GET", "/v1/other", False),
    ("DELETE", "/v1/things/t-1", True),
    ("DELETE", "/v1/things/t-1:enable", True),
    ("POST", "/v1/things:search", True),
])
def test_routes_synthetic_unmatched(method: str, path: str, known: bool) -> None:
    assert SYNTHETIC.match(method, path) == (None, known)


def test_routes_param_values_read_from_pattern() -> None:
    route, _ = SYNTHETIC.match("PATCH", "/v1/things/t-42")
    assert route is not None
    match = route.pattern.match("/v1/things/t-42")
    assert match is not None and match.group("thing__id") == "t-42"
    enable, _ = SYNTHETIC.match("POST", "/v1/things/t-42:enable")
    assert enable is not None
    verb_match = enable.pattern.match("/v1/things/t-42:enable")
    assert verb_match is not None and verb_match.group("id") == "t-42"


def test_routes_allowed_methods_name_the_most_specific_resource() -> None:
    assert SYNTHETIC.allowed_methods("/v1/things/t-1") == ["GET", "PATCH"]
    assert SYNTHETIC.allowed_methods("/v1/things/t-1:enable") == ["POST"]
    assert SYNTHETIC.allowed_methods("/v1/nothing") == []


@pytest.mark.parametrize(("rpc", "scopes", "allowed"), [
    ("svc/Get", None, True),  # full access
    ("svc/Get", ("things:read",), True),
    ("svc/Get", ("things_read",), True),  # any one listed permission suffices
    ("svc/Get", ("things:write",), False),
    ("svc/Get", (), False),
    ("svc/Files", (), True),  # no permission needed
])
def test_route_allows_by_scope(rpc: str, scopes: tuple[str, ...] | None, allowed: bool) -> None:
    route = SYNTHETIC.by_rpc(rpc)
    assert route is not None
    assert route.allows(scopes) is allowed


@pytest.mark.parametrize(("rpc", "policy"), [("svc/Get", "client"), ("svc/Files", "none")])
def test_route_policy_from_auth_type(rpc: str, policy: str) -> None:
    route = SYNTHETIC.by_rpc(rpc)
    assert route is not None and route.policy == policy


# -- KeyRing ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_keys() -> tuple[SigningKey, SigningKey, SigningKey]:
    first = SigningKey.from_pem(FIXTURES.token["default_key"]["kid"], FIXTURES.default_key_pem())
    return first, SigningKey.generate(FIXTURES.token["kid_prefix"]), SigningKey.generate(FIXTURES.token["kid_prefix"])


def kids(keys: list[SigningKey]) -> list[str]:
    return [k.kid for k in keys]


def test_keyring_rotation_keeps_old_key_for_grace(signing_keys: tuple[SigningKey, ...]) -> None:
    a, b, _ = signing_keys
    ring = KeyRing(lambda: a)
    ring.rotate(b, now=1_000.0, grace_seconds=60)
    assert ring.current is b
    assert kids(ring.published(1_000.0)) == [b.kid, a.kid]
    assert ring.find(a.kid, 1_059.9) is a
    assert ring.find(a.kid, 1_060.0) is None
    assert kids(ring.published(1_060.0)) == [b.kid]
    assert ring.find(b.kid, 10**9) is b


def test_keyring_rotation_without_grace_drops_old_key(signing_keys: tuple[SigningKey, ...]) -> None:
    a, b, _ = signing_keys
    ring = KeyRing(lambda: a)
    ring.rotate(b, now=1_000.0, grace_seconds=0)
    assert kids(ring.published(1_000.0)) == [b.kid]
    assert ring.find(a.kid, 1_000.0) is None


def test_keyring_two_rotations_and_reset(signing_keys: tuple[SigningKey, ...]) -> None:
    a, b, c = signing_keys
    ring = KeyRing(lambda: a)
    ring.rotate(b, now=0.0, grace_seconds=100)
    ring.rotate(c, now=50.0, grace_seconds=10)
    assert set(kids(ring.published(50.0))) == {a.kid, b.kid, c.kid}
    assert ring.published(50.0)[0] is c  # the current key first
    assert kids(ring.published(60.0)) == [c.kid, a.kid]
    assert kids(ring.published(100.0)) == [c.kid]
    ring.reset()
    assert ring.current is a
    assert kids(ring.published(0.0)) == [a.kid]


def test_keyring_jwks_shape(signing_keys: tuple[SigningKey, ...]) -> None:
    a, b, _ = signing_keys
    ring = KeyRing(lambda: a)
    ring.rotate(b, now=0.0, grace_seconds=5)
    jwks = ring.jwks(1.0)
    assert [k["kid"] for k in jwks["keys"]] == [b.kid, a.kid]
    for jwk in jwks["keys"]:
        assert {k: jwk[k] for k in ("kty", "alg", "use")} == {"kty": "RSA", "alg": "RS256", "use": "sig"}
        assert jwk["n"] and jwk["e"] == "AQAB"
        assert "d" not in jwk  # never the private part


def test_signing_key_generated_kid_shape(signing_keys: tuple[SigningKey, ...]) -> None:
    _, b, c = signing_keys
    prefix = FIXTURES.token["kid_prefix"]
    for key in (b, c):
        assert key.kid.startswith(prefix) and key.kid[len(prefix):].isdigit() and len(key.kid[len(prefix):]) == 17
    assert b.kid != c.kid


def test_signing_key_from_bad_pem_is_config_error() -> None:
    with pytest.raises(ConfigError):
        SigningKey.from_pem("snk_1", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_control_plane_grace_expires_on_virtual_clock() -> None:
    # Given a token signed with the initial key, then a rotation with 30 s of grace
    source = FakeTime(1_700_000_000.0)
    plane = ControlPlane(clock=VirtualClock(source))
    client = plane.clients.all()[0]
    old = plane.issuer.issue(plane.policy, client, None, plane.now()).access_token
    start_kid = plane.keys.current.kid
    new_kid = plane.rotate_keys(grace_seconds=30)
    assert [k["kid"] for k in plane.jwks()["keys"]] == [new_kid, start_kid]
    # When real time moves 29 s, the old key is still published and its token still verifies
    source.now += 29
    assert plane.verifier.verify(old, plane.policy, plane.now()).claims["sub"] == client.client_id
    # When the virtual clock passes the grace, the old key leaves and its token is invalid
    plane.advance_clock(1)
    assert [k["kid"] for k in plane.jwks()["keys"]] == [new_kid]
    with pytest.raises(ApiError) as caught:
        plane.verifier.verify(old, plane.policy, plane.now())
    assert caught.value.key == "invalid_token"
    # And reset brings the initial key back
    plane.reset()
    assert [k["kid"] for k in plane.jwks()["keys"]] == [start_kid]


# -- clients ------------------------------------------------------------------------------------

GOOD = {"client_id": "svc_1", "client_secret": "s3cret"}


@pytest.mark.parametrize("data", [
    {"client_secret": "s"},
    {"client_id": "", "client_secret": "s"},
    {"client_id": "has space", "client_secret": "s"},
    {"client_id": "svc\n", "client_secret": "s"},
    {"client_id": "x" * 129, "client_secret": "s"},
    {"client_id": 42, "client_secret": "s"},
    {"client_id": "svc_1"},
    {**GOOD, "client_secret": ""},
    {**GOOD, "client_secret": 123},
    {**GOOD, "client_secret": "x" * 513},
    {**GOOD, "scopes": "organizations:read"},
    {**GOOD, "scopes": [""]},
    {**GOOD, "scopes": [1]},
    {**GOOD, "organization_id": ""},
    {**GOOD, "organization_id": 7},
    {**GOOD, "audience": "aud"},
    {**GOOD, "token_lifetime": 1},
    {**GOOD, "token_lifetime": 10**8 + 1},
    {**GOOD, "token_lifetime": True},
    {**GOOD, "token_lifetime": "60"},
    {**GOOD, "token_lifetime": 60.5},
    {**GOOD, "colour": "red"},
], ids=lambda d: ",".join(f"{k}={str(v)[:12]!r}" for k, v in d.items()))
def test_client_from_mapping_refuses_bad_input(data: dict[str, Any]) -> None:
    with pytest.raises(ControlError):
        client_from_mapping(data)


def test_client_from_mapping_defaults() -> None:
    client = client_from_mapping({**GOOD, "description": "ignored"})
    assert client == Client("svc_1", "s3cret", scopes=None, organization_id=None, audience=(), token_lifetime=None)


def test_client_from_mapping_all_fields() -> None:
    client = client_from_mapping({**GOOD, "scopes": ["a:read", "b:write"], "organization_id": "org_1",
                                  "audience": ["https://api"], "token_lifetime": 120})
    assert (client.scopes, client.organization_id, client.audience, client.token_lifetime) == (
        ("a:read", "b:write"), "org_1", ("https://api",), 120)


def test_client_from_mapping_base_supplies_defaults() -> None:
    base = client_from_mapping({**GOOD, "scopes": ["a:read"], "token_lifetime": 60})
    changed = client_from_mapping({"client_secret": "rotated"}, base=base)
    assert changed == Client("svc_1", "rotated", scopes=("a:read",), token_lifetime=60)


def test_client_public_view_has_no_secret() -> None:
    public = client_from_mapping(GOOD).public()
    assert "client_secret" not in public and "s3cret" not in json.dumps(public)
    assert public["client_id"] == "svc_1"


def test_client_secret_matches_exactly() -> None:
    client = client_from_mapping(GOOD)
    assert client.secret_matches("s3cret")
    assert not client.secret_matches("s3cre")
    assert not client.secret_matches("s3cret ")


# -- MockConfig ---------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [
    {"port": -1},
    {"port": 65536},
    {"issuer": "ftp://mock"},
    {"issuer": "http://mock/"},
    {"issuer": "localhost:8080"},
    {"token_lifetime": 1},
    {"token_lifetime": 10**8 + 1},
    {"journal_size": 0},
    {"threads": 0},
    {"threads": 257},
])
def test_config_refuses_bad_values(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        MockConfig(**changes)


def test_config_defaults() -> None:
    config = MockConfig()
    assert (config.host, config.port, config.issuer, config.clients) == ("127.0.0.1", 0, None, None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mock.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("text", [
    "{not json",
    "[]",
    '{"colour": "red"}',
    '{"port": "8080"}',
    '{"port": true}',
    '{"port": 70000}',
    '{"issuer": 5}',
    '{"log_requests": "yes"}',
    '{"clients": []}',
    '{"clients": [{"client_id": "a"}]}',
    '{"clients": [{"client_id": "a", "client_secret": "b", "colour": 1}]}',
    '{"token_lifetime": 1.5}',
])
def test_config_from_file_refuses_bad_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        MockConfig.from_file(write(tmp_path, text))


def test_config_from_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        MockConfig.from_file(tmp_path / "absent.json")


def test_config_from_file_reads_fields(tmp_path: Path) -> None:
    path = write(tmp_path, json.dumps({"port": 8081, "token_lifetime": 300, "issuer": "http://mock.test",
                                       "clients": [{"client_id": "app", "client_secret": "pw"}]}))
    config = MockConfig.from_file(path, base=MockConfig(threads=4))
    assert (config.port, config.token_lifetime, config.issuer, config.threads) == (8081, 300, "http://mock.test", 4)
    assert config.clients == (Client("app", "pw"),)


DEFAULTS = default_clients(FIXTURES)


def test_config_with_env_takes_client_from_environment() -> None:
    env = {"SCALEKIT_CLIENT_ID": "skc_mine", "SCALEKIT_CLIENT_SECRET": "my-secret"}
    config = MockConfig().with_env(env, defaults=DEFAULTS)
    assert config.clients is not None
    assert config.clients[0] == Client("skc_mine", "my-secret")  # full access
    limited = [c for c in DEFAULTS if c.scopes is not None]
    assert list(config.clients[1:]) == limited  # the default full-access client is replaced
    assert all(c.scopes is not None for c in config.clients[1:])


@pytest.mark.parametrize("env", [
    {},
    {"SCALEKIT_CLIENT_ID": "skc_mine"},
    {"SCALEKIT_CLIENT_SECRET": "my-secret"},
    {"SCALEKIT_CLIENT_ID": "", "SCALEKIT_CLIENT_SECRET": "my-secret"},
])
def test_config_with_env_needs_both_variables(env: dict[str, str]) -> None:
    config = MockConfig(port=9000)
    assert config.with_env(env, defaults=DEFAULTS) is config


def test_config_with_env_bad_client_id_is_config_error() -> None:
    with pytest.raises(ConfigError, match="SCALEKIT_CLIENT_ID"):
        MockConfig().with_env({"SCALEKIT_CLIENT_ID": "bad id", "SCALEKIT_CLIENT_SECRET": "s"}, defaults=DEFAULTS)


# -- fault specs --------------------------------------------------------------------------------


def fault(spec: dict[str, Any], fault_id: int = 1) -> Any:
    return fault_from_mapping(fault_id, spec, PRESETS, HANG_MAX)


@pytest.mark.parametrize("spec", [
    {},
    {"kind": "explode"},
    {"kind": 3},
    {"kind": "status"},
    {"kind": "status", "status": 99},
    {"kind": "status", "status": 600},
    {"kind": "status", "status": 100},  # an interim answer: no server can send it as the final one
    {"kind": "status", "status": 199},
    {"kind": "status", "status": "503"},
    {"kind": "status", "status": True},
    {"kind": "status", "preset": "meltdown"},
    {"kind": "status", "preset": ["unavailable"]},
    {"kind": "status", "status": 503, "colour": "red"},
    {"kind": "status", "status": 503, "endpoint": "everywhere"},
    {"kind": "status", "status": 503, "endpoint": "control"},
    {"kind": "status", "status": 503, "path": "api/v1"},
    {"kind": "status", "status": 503, "path": 5},
    {"kind": "status", "status": 503, "method": "GE T"},
    {"kind": "status", "status": 503, "method": 1},
    {"kind": "status", "status": 503, "count": 0},
    {"kind": "status", "status": 503, "count": -1},
    {"kind": "status", "status": 503, "count": 1.5},
    {"kind": "status", "status": 503, "count": "2"},
    {"kind": "status", "status": 503, "count": 10**7},
    {"kind": "status", "status": 503, "headers": ["X-A"]},
    {"kind": "status", "status": 503, "headers": {"X-A": 1}},
    {"kind": "status", "status": 503, "headers": {"X-A": "a\r\nX-Injected: 1"}},
    {"kind": "status", "status": 503, "headers": {"Bad Name": "v"}},
    {"kind": "status", "status": 503, "headers": {"": "v"}},
    {"kind": "status", "status": 503, "headers": {"Content-Length": "5"}},
    {"kind": "status", "status": 503, "headers": {"Connection": "close"}},
    {"kind": "status", "status": 503, "headers": {"Transfer-Encoding": "chunked"}},
    {"kind": "status", "status": 503, "headers": {"X-A": "\u20ac"}},
    {"kind": "delay", "seconds": -1},
    {"kind": "delay", "seconds": "1"},
    {"kind": "delay", "seconds": float("nan")},
    {"kind": "delay", "seconds": HANG_MAX + 1},
    {"kind": "hang", "seconds": HANG_MAX + 1},
    {"kind": "malformed_token", "variant": "garbled"},
    {"kind": "malformed_token", "endpoint": "api"},
    {"kind": "token_expired", "endpoint": "token"},
    {"kind": "forbidden", "endpoint": "any"},
], ids=lambda s: json.dumps(s, default=str)[:60])
def test_fault_from_mapping_refuses_bad_spec(spec: dict[str, Any]) -> None:
    with pytest.raises(ControlError):
        fault(spec)


@pytest.mark.parametrize(("spec", "expected"), [
    ({"kind": "status", "preset": "unavailable"}, {"status": 503, "endpoint": "any", "count": 1}),
    ({"kind": "status", "preset": "rate_limited", "status": 420}, {"status": 420, "preset": "rate_limited"}),
    ({"kind": "delay"}, {"seconds": 1.0}),
    ({"kind": "hang"}, {"seconds": HANG_MAX}),
    ({"kind": "hang", "seconds": 0}, {"seconds": 0.0}),
    ({"kind": "drop", "method": "post", "path": "/oauth/token"}, {"method": "POST", "path": "/oauth/token"}),
    ({"kind": "malformed_token"}, {"endpoint": "token", "variant": "not_json"}),
    ({"kind": "token_expired"}, {"endpoint": "api"}),
    ({"kind": "forbidden", "count": 3}, {"endpoint": "api", "count": 3}),
    ({"kind": "status", "status": 502, "headers": {"Retry-After": "5"}}, {"headers": {"Retry-After": "5"}}),
], ids=lambda s: json.dumps(s)[:50])
def test_fault_from_mapping_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    built = fault(spec)
    assert {k: getattr(built, k) for k in expected} == expected


def test_fault_queue_consumes_matching_faults_in_order() -> None:
    queue = FaultQueue()
    keys = queue.add(fault({"kind": "drop", "endpoint": "keys"}, queue.next_id()))
    first = queue.add(fault({"kind": "status", "status": 503, "endpoint": "token", "count": 2}, queue.next_id()))
    second = queue.add(fault({"kind": "status", "status": 429, "endpoint": "token"}, queue.next_id()))
    assert queue.take("api", "GET", "/api/v1/organizations") is None
    assert queue.take("token", "POST", "/oauth/token") is first
    assert [f["remaining"] for f in queue.pending()] == [1, 1, 1]
    assert queue.take("token", "POST", "/oauth/token") is first
    assert queue.take("token", "POST", "/oauth/token") is second
    assert queue.take("token", "POST", "/oauth/token") is None
    assert [f["id"] for f in queue.pending()] == [keys.id]
    queue.clear()
    assert queue.pending() == []
    assert queue.take("keys", "GET", "/keys") is None


@pytest.mark.parametrize(("spec", "request_", "matches"), [
    ({"endpoint": "api"}, ("api", "GET", "/api/v1/x"), True),
    ({"endpoint": "api"}, ("token", "POST", "/oauth/token"), False),
    ({"path": "/api/v1/organizations/"}, ("api", "GET", "/api/v1/organizations/org_1"), True),
    ({"path": "/api/v1/organizations/"}, ("api", "GET", "/api/v1/organizations"), False),
    ({"method": "POST"}, ("api", "POST", "/api/v1/organizations"), True),
    ({"method": "POST"}, ("api", "GET", "/api/v1/organizations"), False),
])
def test_fault_matches(spec: dict[str, Any], request_: tuple[str, str, str], matches: bool) -> None:
    assert fault({"kind": "drop", **spec}).matches(*request_) is matches
