"""Scalekit's published REST contract (``fixtures/scalekit-openapi.json``): its operations, and checking a request
against them.

Every operation names its RPC (``OrganizationService_GetOrganization`` is
``scalekit.v1.organizations.OrganizationService/GetOrganization``; a trailing digit marks another HTTP binding of
the same RPC), its path and query parameters, its request body and its success response. The API answers a
request that breaks the document as grpc-gateway does in front of Scalekit: 400 with a ``google.rpc.Status``
body, code 3, whose message names the field. Fields the document does not know are ignored (grpc-gateway's
JSON decoder discards unknown fields, and so does its query-parameter parser).

Loaded once per process and only when the API first needs it, so the token endpoint never pays for it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .data import RouteRow
from .errors import ApiError
from .routes import TEMPLATE_PARAM

if TYPE_CHECKING:  # imported when the first request is checked: jsonschema costs a mock's start ~40 ms
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

DOCUMENT_URI = "urn:scalekit:openapi"
_TRUE, _FALSE = {"true", "True", "TRUE", "t", "T", "1"}, {"false", "False", "FALSE", "f", "F", "0"}  # Go's ParseBool


def normalized(template: str) -> str:
    """A path template with its parameter names dropped: ``/a/{id}`` and ``/a/{org_id}`` are the same route."""
    return TEMPLATE_PARAM.sub("{}", template)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # "path" or "query"
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One operation of the document, and the RPC it is a binding of."""

    operation_id: str
    rpc: str
    method: str
    template: str
    parameters: tuple[Parameter, ...]
    body_ref: str | None  # the request body's schema name, if it has one
    success_status: int  # 200 or 201, as documented
    response_ref: str | None  # the success body's schema name (None: an empty message)
    documented_statuses: frozenset[int]

    @functools.cached_property  # read on every call
    def path_params(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters if p.location == "path")

    @functools.cached_property
    def query_params(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "query")


class Contract:
    """The published document: its operations by RPC and binding, its schemas, and the request checks."""

    def __init__(self, document: Mapping[str, Any], routes: Iterable[RouteRow]) -> None:
        self.document = document
        self.schemas: Mapping[str, Any] = document["components"]["schemas"]
        rpcs = {row.rpc.split(".")[-1]: row.rpc for row in routes}  # "OrganizationService/GetOrganization" -> full
        self.operations: list[Operation] = []
        for template, item in document["paths"].items():
            for method, spec in item.items():
                if method in ("get", "put", "post", "delete", "patch"):
                    self.operations.append(_operation(template, method.upper(), spec, rpcs))
        self._by_binding = {(op.rpc, op.method, normalized(op.template)): op for op in self.operations}
        self._bindings: dict[str, list[Operation]] = {}  # by RPC, in the document's order (the main one first)
        for op in self.operations:
            self._bindings.setdefault(op.rpc, []).append(op)

    def operation(self, rpc: str, method: str, template: str) -> Operation | None:
        """The operation of one HTTP binding of ``rpc``."""
        return self._by_binding.get((rpc, method, normalized(template)))

    def binding_for(self, rpc: str, message: Mapping[str, Any]) -> Operation | None:
        """The binding of ``rpc`` whose path parameters the message sets (a gRPC ``GetUser`` may name the user by
        ``id`` or by ``external_id``: one RPC, two REST paths); the main binding when none fits better."""
        bindings = self._bindings.get(rpc, [])  # the main one first: it has no trailing digit
        for op in bindings:
            if all(has_field(message, name) for name in op.path_params):
                return op
        return bindings[0] if bindings else None

    def schema(self, name: str | None) -> Mapping[str, Any]:
        """A named schema of the document (none named: an empty one)."""
        return self.schemas[name] if name else {}

    def extra_rows(self, rows: Iterable[RouteRow]) -> list[RouteRow]:
        """Routes of the document that the routes table lacks (other bindings of its RPCs, e.g.
        ``users:external/{external_id}``): each takes the permissions and auth type of its RPC's row."""
        rows = list(rows)
        known = {(r.rpc, r.method, normalized(r.template)) for r in rows}
        by_rpc = {r.rpc: r for r in rows}
        extra = []
        for op in self.operations:
            main = by_rpc.get(op.rpc)
            if main is None or (op.rpc, op.method, normalized(op.template)) in known:
                continue
            body = main.body_field if op.body_ref else ""
            extra.append(RouteRow(op.rpc, op.method, op.template, body, main.auth_type, main.permissions))
        return extra

    # -- checking requests ------------------------------------------------------------------------
    def query_message(self, op: Operation, query: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """The query parameters the operation documents, typed as its schemas say (``a.b`` nests); a value that
        does not parse or breaks its schema is a 400 naming the parameter. Undocumented ones are ignored."""
        if not op.query_params:
            return {}
        query = list(query)
        values: dict[str, list[str]] = {}
        for key, value in query:
            values.setdefault(key, []).append(value)
        message: dict[str, Any] = {}
        for param in op.query_params:
            if param.name not in values:
                if param.required:
                    raise ApiError("invalid_argument", message=f"invalid {param.name}: value is required")
                continue
            typed = _typed(param, values[param.name])
            self._check(param.schema, typed, param.name)
            set_field(message, param.name, typed)
        return message

    def check_body(self, schema_name: str, body: Any, where: str = "") -> None:
        """A 400 naming the field when ``body`` breaks the named schema of the document. A required field that
        is an empty string counts as missing: in proto3, which the body is decoded into, they are the same."""
        self._check({"$ref": f"#/components/schemas/{schema_name}"}, body, where)
        for name in self.schema(schema_name).get("required", ()):
            if isinstance(body, dict) and body.get(name) == "":
                raise ApiError("invalid_argument", message=f"invalid {where + '.' if where else ''}{name}: "
                                                           "value is required")

    def accepts(self, schema: Mapping[str, Any], value: Any) -> bool:
        """Whether ``value`` is valid for ``schema``, a fragment of the document."""
        return bool(self._validator(json.dumps(schema, sort_keys=True)).is_valid(value))

    def _check(self, schema: Mapping[str, Any], value: Any, where: str) -> None:
        error = _first_error(self._validator(json.dumps(schema, sort_keys=True)), value)
        if error is not None:
            raise ApiError("invalid_argument", message=_describe(error, where))

    @functools.cached_property
    def _registry(self) -> Any:
        from referencing import Registry, Resource
        return Registry().with_resource(DOCUMENT_URI, Resource.opaque(self.document))

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one Contract per process; its validators live as long
    def _validator(self, schema_json: str) -> Draft202012Validator:
        from jsonschema import Draft202012Validator

        # a fragment's "#/components/..." references name the document, not the fragment
        absolute = schema_json.replace('"$ref": "#/', f'"$ref": "{DOCUMENT_URI}#/')
        return Draft202012Validator(json.loads(absolute), registry=self._registry, format_checker=_formats())


_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1), "uint32": (0, 2**32 - 1),
           "uint64": (0, 2**64 - 1)}
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", re.IGNORECASE)
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[!-~]+")  # a scheme, then printable ASCII (RFC 3986 has no other)


@functools.cache
def _formats() -> Any:
    """The formats the document uses that protobuf enforces when grpc-gateway decodes a request: integer widths
    (a JSON number or, for 64-bit fields, a decimal string), RFC 3339 timestamps; and URIs as RFC 3986 spells
    them. ``email`` is left unchecked: protobuf has no such type."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    def ranged(name: str) -> None:
        low, high = _RANGES[name]

        def check(value: object) -> bool:
            if isinstance(value, str):
                if not re.fullmatch(r"-?[0-9]{1,20}", value):
                    return False
                value = int(value)
            return not isinstance(value, int) or isinstance(value, bool) or low <= value <= high
        checker.checks(name)(check)

    for name in _RANGES:
        ranged(name)
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(_RFC3339.fullmatch(v)))
    checker.checks("uri")(lambda v: not isinstance(v, str) or bool(_URI.fullmatch(v)))
    return checker


def _operation(template: str, method: str, spec: Mapping[str, Any], rpcs: Mapping[str, str]) -> Operation:
    service, _, name = str(spec["operationId"]).partition("_")
    rpc = rpcs.get(f"{service}/{name}") or rpcs.get(f"{service}/{name.rstrip('0123456789')}")
    if rpc is None:  # the document names every RPC of the table; an unknown one is a fixture error
        raise ValueError(f"operation {spec['operationId']} names no RPC of the routes table")
    parameters = tuple(Parameter(p["name"], p["in"], p.get("schema", {}), bool(p.get("required")))
                       for p in spec.get("parameters", ()))
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    responses = spec.get("responses", {})
    success = next(code for code in responses if code.startswith("2"))
    answer = responses[success].get("content", {}).get("application/json", {}).get("schema", {})
    return Operation(str(spec["operationId"]), rpc, method, template, parameters, _ref_name(body), int(success),
                     _ref_name(answer), frozenset(int(code) for code in responses if code.isdigit()))


def field_value(message: Mapping[str, Any], name: str) -> Any:
    """The value of a message's field ``name`` (``a.b``: nested), or ``None``."""
    value: Any = message
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def set_field(message: dict[str, Any], name: str, value: Any) -> None:
    """Set a message's field ``name`` (``a.b``: nested, the messages on the way made as needed)."""
    *parents, last = name.split(".")
    for part in parents:
        nested = message.get(part)
        if not isinstance(nested, dict):
            nested = message[part] = {}
        message = nested
    message[last] = value


def has_field(message: Mapping[str, Any], name: str) -> bool:
    """Whether the message sets ``name`` (``a.b``: nested) to something other than proto3's empty value."""
    return field_value(message, name) not in (None, "")


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _typed(param: Parameter, raw: list[str]) -> Any:
    """A query value as its schema's type: integers and booleans parsed as grpc-gateway parses them."""
    schema = param.schema
    if schema.get("type") == "array":
        return [_scalar(param.name, schema.get("items", {}), value) for value in raw]
    return _scalar(param.name, schema, raw[-1])  # a repeated scalar: the last one, as Go's parser keeps it


def _scalar(name: str, schema: Mapping[str, Any], value: str) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise ApiError("invalid_argument", message=f"invalid {name}: {value[:40]!r} is not an integer")
        return int(value)
    if kind == "boolean":
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        raise ApiError("invalid_argument", message=f"invalid {name}: {value[:40]!r} is not a boolean")
    return value


def _first_error(validator: Draft202012Validator, value: Any) -> ValidationError | None:
    """The error to report: the shallowest, so a missing field is named before what is wrong inside another."""
    errors = sorted(validator.iter_errors(value), key=lambda e: (len(e.absolute_path), str(e.absolute_path)))
    return errors[0] if errors else None


def _describe(error: ValidationError, where: str) -> str:
    """What a 400 says: the field and the rule, without echoing what was sent (it might be a secret)."""
    path = ".".join(str(p) for p in (*([where] if where else []), *error.absolute_path))
    rule, expected = error.validator, error.validator_value
    expected = expected if isinstance(expected, (str, int, float, list)) else str(expected)
    if rule == "required" and isinstance(expected, list):
        missing = next((f for f in expected if isinstance(error.instance, dict) and f not in error.instance), "")
        field = f"{path}.{missing}" if path else str(missing)
        return f"invalid {field}: value is required"
    subject = f"invalid {path}" if path else "invalid request body"
    reasons = {"type": f"must be of type {expected}", "maxLength": f"must be at most {expected} characters",
               "minLength": f"must be at least {expected} characters", "pattern": f"must match {expected}",
               "enum": "must be one of " + ", ".join(map(str, expected if isinstance(expected, list) else ())),
               "minimum": f"must be at least {expected}", "maximum": f"must be at most {expected}",
               "format": f"must be a valid {expected}"}
    return f"{subject}: {reasons.get(str(rule), f'breaks the {rule} rule')}"


@functools.lru_cache(maxsize=4)
def load_contract(path: Path, routes: tuple[RouteRow, ...]) -> Contract:
    return Contract(json.loads(path.read_text(encoding="utf-8")), routes)
