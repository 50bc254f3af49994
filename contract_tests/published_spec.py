"""Scalekit's published OpenAPI document as the contract run over it reads it (``published_run.py``).

The document is ``fixtures/scalekit-openapi.json`` as published (provenance and licence beside it, in
``scalekit-openapi.NOTICE.md``), with three kinds of addition, each explicit data with its source, so that
where the document says less than the facts the run neither blames the mock for the facts nor silently
stops checking:

- ``ERROR_STATUSES``: the error statuses of the whole API (the document lists them in its notes, and on
  only some operations, with empty schemas) added to every operation, with the ``google.rpc.Status`` body
  of scalekit-facts.md as their schema, the ``code`` being one grpc-gateway maps to that status. The
  document's own error responses get the same schema: a check that the error bodies are right, not a
  weaker one.
- ``derived_links``: the document has no ``links``; a create operation is linked to the operations on the
  resource it created (its id into their path), for the stateful phase. Schemathesis adds the links its
  dependency analysis infers from the schemas on top of these.
- ``EXCUSES``: failures that are the document's gap, not the mock's, reported apart with their reason
  and count, never dropped.
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mock_server.core.data import fixtures_dir

DOCUMENT, ROUTES = "scalekit-openapi.json", "routes.tsv"
METHODS = ("get", "put", "post", "delete", "patch")
WRITES = frozenset({"post", "put", "patch", "delete"})
Schema = dict[str, Any]


@dataclass(frozen=True)
class ErrorStatus:
    """An error status every operation (or every write) may answer, with the gRPC codes grpc-gateway maps to it."""

    status: str
    codes: tuple[int, ...]
    writes_only: bool
    reason: str


ERROR_STATUSES = (
    ErrorStatus("400", (3, 9, 11), False, "the document's notes list 400 among the API's statuses; "
                "INVALID_ARGUMENT (and FAILED_PRECONDITION, OUT_OF_RANGE) for a request that fails validation"),
    ErrorStatus("401", (16,), False, "every operation needs a token (the document's global oauth2 security); "
                "seed docs: 401 Token empty, Invalid credentials, Token expired"),
    ErrorStatus("403", (7,), False, "seed docs: 403 Insufficient permissions, for a token lacking the route's "
                "permission (scalekit-api-routes.tsv)"),
    ErrorStatus("404", (5,), False, "the document's notes list 404; NOT_FOUND for an id that names nothing"),
    ErrorStatus("409", (6, 10), True, "ALREADY_EXISTS (or ABORTED) when a write collides with an existing "
                "resource; the document lists 409 on CreateConnectedAccount only"),
    ErrorStatus("429", (8,), False, "docs, reference/rate-limits: RESOURCE_EXHAUSTED past the environment's "
                "request rate"),
)


def status_schema(codes: tuple[int, ...]) -> Schema:
    """The grpc-gateway error body (scalekit-facts.md, REST API errors) with one of these codes."""
    detail = {"type": "object", "required": ["@type"], "properties": {"@type": {"type": "string"}}}
    return {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"enum": list(codes)}, "message": {"type": "string"},
                           "details": {"type": "array", "items": detail}}}


def operations(document: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@functools.lru_cache(maxsize=1)
def _published_text() -> str:
    return (fixtures_dir() / DOCUMENT).read_text(encoding="utf-8")


def published_document() -> Schema:
    """The document exactly as shipped (a fresh copy each call)."""
    document: Schema = json.loads(_published_text())
    return document


@functools.lru_cache(maxsize=1)
def _shared() -> Schema:
    """One copy, never changed, for the excuses to read."""
    return published_document()


def amended_document() -> Schema:
    """The published document with the error statuses of ``ERROR_STATUSES`` and the derived links."""
    document = published_document()
    for _, method, operation in operations(document):
        responses = operation["responses"]
        for error in ERROR_STATUSES:
            if error.writes_only and method not in WRITES and error.status not in responses:
                continue
            responses[error.status] = {"description": error.reason,
                                       "content": {"application/json": {"schema": status_schema(error.codes)}}}
    for source, response, name, link in derived_links(document):
        document["paths"][source[0]][source[1]]["responses"][response].setdefault("links", {})[name] = link
    return document


# -- links ------------------------------------------------------------------------------------------------


def _resolve(document: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _created(document: Schema, operation: Schema) -> tuple[str, str, Schema] | None:
    """The success status of a create, the name of the resource in its answer and that resource's properties."""
    for status, response in operation["responses"].items():
        if not status.startswith("2"):
            continue
        body = _resolve(document, response["content"]["application/json"]["schema"])
        fields = {name: _resolve(document, s).get("properties", {}) for name, s in body.get("properties", {}).items()}
        resources = [(name, props) for name, props in fields.items() if "id" in props or "name" in props]
        if len(resources) == 1:
            return status, *resources[0]
    return None


def _field(resource: str, parameter: str, properties: Schema) -> str | None:
    """Which field of the created resource a path parameter of the next call names."""
    for candidate in (parameter.removeprefix(f"{resource}_"), parameter):
        if candidate in properties:
            return candidate
    return "id" if (parameter == "id" or parameter.endswith("_id")) and "id" in properties else None


PARAM = re.compile(r"\{([^}]+)\}")


def derived_links(document: Schema) -> list[tuple[tuple[str, str], str, str, Schema]]:
    """Create → the operations on what it created: ``POST P`` answers a resource; each operation at
    ``P/{p}…`` gets ``p`` from that resource (its ``p``, ``id`` or ``name``) and P's own parameters from the
    create's path; the other methods of the create's own path (a membership's update and delete, a list) get
    its path parameters.

    Returns (source path and method, status, link name, link object) for every link.
    """
    by_path = {(path, method): op for path, method, op in operations(document)}
    links = []
    for (path, method), op in by_path.items():
        created = _created(document, op) if method == "post" else None
        if created is None:
            continue
        status, resource, properties = created
        own = PARAM.findall(path)
        for (target, target_method), target_op in by_path.items():
            parameters = {f"path.{p}": f"$request.path.{p}" for p in own}
            if target == path and own and target_method != "post":
                pass  # the same resource, named by the create's own path
            elif target.startswith(f"{path}/{{"):
                first = PARAM.match(target, len(path) + 1)
                assert first is not None  # the prefix ends in "{"
                field = _field(resource, first.group(1), properties)
                if field is None:
                    continue
                parameters[f"path.{first.group(1)}"] = f"$response.body#/{resource}/{field}"
            else:
                continue
            if set(PARAM.findall(target)) <= {key.removeprefix("path.") for key in parameters}:
                links.append(((path, method), status, f"derived_{target_op['operationId']}",
                              {"operationId": target_op["operationId"], "parameters": parameters}))
    return links


# -- excuses ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """Where a check failed: the check, the operation (``GET /api/v1/…``), the request sent and the answer."""

    check: str
    operation: str
    method: str
    url: str
    status: int | None
    message: str  # the check's own account of the failure
    allow: str = ""  # the answer's Allow header
    sent: str = ""  # the request's body
    answer: str = ""  # the response's body

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


@dataclass(frozen=True)
class Excuse:
    """A kind of failure that is the document's gap, not the mock's; ``applies`` says whether a failure is one."""

    check: str
    reason: str
    applies: Callable[[Site], bool]


def _template_pattern(template: str) -> re.Pattern[str]:
    """A grpc-gateway path template as a regex: ``{x}`` one segment, ``**`` the rest of the path."""
    parts = re.split(r"(\{[^}]+\}|\*\*)", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else ".+" if p == "**" else re.escape(p) for p in parts)
                      + "$")


@functools.lru_cache(maxsize=1)
def _routes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    text = (fixtures_dir() / ROUTES).read_text(encoding="utf-8")
    return tuple((row["http_method"].upper(), _template_pattern(row["path_template"]))
                 for row in csv.DictReader(text.splitlines(), delimiter="\t"))


def _routes_table_serves(method: str, path: str) -> bool:
    return any(m == method.upper() and pattern.match(path) for m, pattern in _routes())


def method_in_routes_table(site: Site) -> bool:
    """The undeclared method sent is one another RPC of the routes table serves on this URL."""
    return _routes_table_serves(site.method, site.path)


def allow_from_routes_table(site: Site) -> bool:
    """No documented method is missing from Allow, and each undocumented one is the routes table's on this URL."""
    documented = {m.upper() for m in _shared()["paths"][site.operation.split(" ", 1)[1]]}
    advertised = {m.strip().upper() for m in site.allow.split(",") if m.strip()} - {"HEAD", "OPTIONS"}
    return documented <= advertised and all(_routes_table_serves(m, site.path) for m in advertised - documented)


def only_the_body_missing(site: Site) -> bool:
    """Schemathesis names a missing request body as the one thing wrong with the request."""
    prefix = "Invalid component:"
    wrong = [line.removeprefix(prefix).strip() for line in site.message.splitlines() if line.startswith(prefix)]
    return wrong == ["Missing request body"]


PAGE_SIZES = range(10, 101)


def page_size_outside_the_notes(site: Site) -> bool:
    """A 400 for a ``page_size`` the document's notes rule out (0 is no page size at all: the default)."""
    values = parse_qs(urlsplit(site.url).query).get("page_size", [])
    return site.status == 400 and any(v.lstrip("-").isdigit() and int(v) != 0 and int(v) not in PAGE_SIZES
                                      for v in values)


def required_string_sent_empty(site: Site) -> bool:
    """A 400 for a body whose required string field is ``""`` (the same, in proto3, as not sent)."""
    method, path = site.operation.split(" ", 1)
    operation = _shared()["paths"][path][method.lower()]
    try:
        sent = json.loads(site.sent) if site.sent else None
        schema = _resolve(_shared(), operation["requestBody"]["content"]["application/json"]["schema"])
    except (KeyError, ValueError):
        return False
    return site.status == 400 and isinstance(sent, dict) and any(sent.get(name) == "" for name in
                                                                 schema.get("required", ()))


def int64_string_not_decimal(site: Site) -> bool:
    """A 400 naming a 64-bit integer field that was sent as a string other than a decimal integer."""
    return site.status == 400 and re.search(r"invalid [\w.]+: must be a valid u?int64", site.answer) is not None


def unissued_page_token(site: Site) -> bool:
    """A 400 for a request with a page token: valid ones are only those the service handed out."""
    return site.status == 400 and any(parse_qs(urlsplit(site.url).query).get("page_token", []))


EXCUSES = (
    Excuse("unsupported_method", "the routes table (scalekit-api-routes.tsv: 444 RPCs, 104 of them in the "
           "document) has an RPC with this method on this URL, so the service answers it rather than 405",
           method_in_routes_table),
    Excuse("allow_header_conformance", "Allow also lists methods the routes table serves on this URL (RPCs the "
           "document leaves out)", allow_from_routes_table),
    Excuse("negative_data_rejection", "the document marks every request body required (protoc-gen-openapiv2 "
           "does), but grpc-gateway decodes an absent body as the empty message (io.EOF is no error), so the "
           "service answers as for {}", only_the_body_missing),
    Excuse("positive_data_acceptance", "the document's notes (scalekit-openapi.NOTICE.md) say page_size must "
           "be between 10 and 100, which its schemas do not", page_size_outside_the_notes),
    Excuse("positive_data_acceptance", "proto3 cannot tell an empty string from an absent one, so a required "
           "string field sent as \"\" is missing (docs/api-resources.md, Validation)", required_string_sent_empty),
    Excuse("positive_data_acceptance", "the document types a 64-bit integer as a string with format int64 "
           "(protoc-gen-openapiv2's mapping), and grpc-gateway's protojson decoder takes only a decimal integer "
           "there: any other string is INVALID_ARGUMENT", int64_string_not_decimal),
    Excuse("positive_data_acceptance", "page tokens are opaque: a string the service did not hand out as a "
           "next_page_token is refused (INVALID_ARGUMENT), however well it fits the schema's 'string'",
           unissued_page_token),
)


def excuse_for(site: Site) -> Excuse | None:
    return next((e for e in EXCUSES if e.check == site.check and e.applies(site)), None)
