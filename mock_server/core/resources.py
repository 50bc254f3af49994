"""The API's resources: every operation of Scalekit's published document, answered from one stateful store.

The resource model is derived from the document, not written per route. A collection is the schema a get or
create operation answers with (``organizationsOrganization``, ``usersUser``, ...); an operation's kind follows
from its method, its path and its response:

- ``create``: POST to a path ending in a literal, answering one resource;
- ``get`` / ``update`` / ``delete``: GET / PATCH or PUT / DELETE on a path ending in the resource's key;
- ``list``: GET answering an array of resources, paged when its response has ``next_page_token``;
- ``action``: everything else (``:enable``, ``/portal_links``, ``memberships/...``): the resource its path
  names must exist, ``fixtures/resources.json`` says what it does to it (``effects``), and the answer is built
  from the document's response schema, with that resource where the schema holds one.

A resource lives in the scope of the path it was created under (``/organizations/{organization_id}/users``:
that organization), and lists and lookups under a scope see only its resources; a path's scope parameters
must name existing resources (404 otherwise). Keys are the path's last parameter: ``{id}``, ``{client_id}``,
``{role_name}`` (the ``name`` field), ``{external_id}``.

Requests are checked against the document first (``contract.py``); both faces call ``call`` with the request
message in its JSON form, so REST and gRPC answer from the same resources.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .contract import Contract, Operation, field_value, normalized
from .errors import ApiError

Item = dict[str, Any]
_LAST_PARAM = re.compile(r"\{([^}=]+)\}$")
_TIME_FIELDS = (("create_time", "update_time"), ("created_at", "updated_at"))


def rfc3339(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Record:
    """A stored resource and the scopes it belongs to (collection name -> keys: a user's organizations)."""

    item: Item
    scopes: dict[str, set[str]] = field(default_factory=dict)

    def in_scope(self, scope: Mapping[str, str], exact: bool) -> bool:
        if not scope:
            return not (exact and self.scopes)
        if exact and set(self.scopes) != set(scope):
            return False
        return all(key in self.scopes.get(name, ()) for name, key in scope.items())


@dataclass(frozen=True)
class Plan:
    """What an operation does, derived once from the document."""

    op: Operation
    kind: str  # create, get, list, update, delete, action
    collection: str | None  # the resource schema it acts on
    wrapper: str | None  # the response field holding the resource(s)
    key_param: str | None  # the path parameter naming the resource
    key_field: str | None  # the resource field that parameter matches
    scope_params: tuple[tuple[str, str], ...]  # (path parameter, collection it names)
    view: str | None = None  # a list's item schema, when shorter than the collection's


class ResourceStore:
    """All resources of one environment; thread-safe (one lock: every operation is a few dict lookups)."""

    def __init__(self, contract: Contract, data: Mapping[str, Any], clock: Callable[[], float]) -> None:
        self.contract, self.data, self.now = contract, data, clock
        self.collections: Mapping[str, Any] = data["collections"]
        self._lock = threading.RLock()
        self._ids = itertools.count(70_000_000_000_000_000)
        self.plans = _derive_plans(contract, data)
        # each collection's key: the field its first item path (a get operation's) names
        self.keys: dict[str, str] = {}
        for plan in self.plans.values():
            if plan.kind == "get" and plan.collection and plan.key_field and plan.key_field != "external_id":
                self.keys.setdefault(plan.collection, plan.key_field)
        self._kinds = {"create": self._create, "get": self._get, "list": self._list, "update": self._update,
                       "delete": self._delete, "action": self._action}
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._records: dict[str, list[Record]] = {name: [] for name in self.collections}
            self._index: dict[str, dict[str, list[Record]]] = {}  # collection -> its key -> records (lookups)
            for name, items in self.data.get("seed", {}).items():
                for seed in items:
                    item = {k: copy.deepcopy(v) for k, v in seed.items() if k != "_scope"}
                    scopes = {c: set(keys) for c, keys in seed.get("_scope", {}).items()}
                    self._add(name, Record(item, scopes))

    def _add(self, collection: str, record: Record) -> None:
        self._records.setdefault(collection, []).append(record)
        key = str(record.item.get(self._key_field_of(collection), ""))
        self._index.setdefault(collection, {}).setdefault(key, []).append(record)

    def _remove(self, collection: str, record: Record) -> None:
        self._records[collection].remove(record)
        self._index[collection][str(record.item.get(self._key_field_of(collection), ""))].remove(record)

    def _keyed(self, collection: str, field_name: str, key: str) -> list[Record]:
        """The records whose ``field_name`` is ``key``: from the index for the collection's key, else a scan."""
        if field_name == self._key_field_of(collection):
            return self._index.get(collection, {}).get(key, [])
        return [r for r in self._records.get(collection, ()) if r.item.get(field_name) == key]

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def locked(self) -> threading.RLock:
        """The store's lock, for a caller that reads and changes stored resources in one step."""
        return self._lock

    def changes(self, op: Operation) -> bool:
        """Whether ``op`` may change stored resources (everything but a get or a list)."""
        return self.plans[op.operation_id].kind not in ("get", "list")

    def lookup(self, collection: str, key_field: str, key: str, scope: Mapping[str, str]) -> Item:
        """A stored resource by key within a scope (every scope key must exist); 404 otherwise."""
        with self._lock:
            for name, parent in scope.items():
                if not self._keyed(name, self._key_field_of(name), parent):
                    raise self._not_found(name)
            for record in self._keyed(collection, key_field, key):
                if record.in_scope(scope, False):
                    return record.item
        raise self._not_found(collection)

    # -- answering ------------------------------------------------------------------------------
    def call(self, op: Operation, message: Mapping[str, Any]) -> tuple[int, Item]:
        """Carry out ``op`` with the request ``message``; the HTTP status and the response message."""
        plan = self.plans[op.operation_id]
        body = self._body(op, message)
        if body is not None and op.body_ref:
            self.contract.check_body(op.body_ref, body)
        with self._lock:
            scope = self._scope(plan, message)
            answer = self._kinds[plan.kind](plan, message, scope, body)
        return op.success_status, answer

    def _body(self, op: Operation, message: Mapping[str, Any]) -> Any:
        """The part of the message that is the REST body: its body field, or all but the path parameters."""
        if not op.body_ref:
            return None
        field_name = self.body_fields.get(op.rpc, "*")
        if field_name == "*":
            return {k: v for k, v in message.items() if k not in op.path_params}
        return message.get(field_name, {})

    body_fields: Mapping[str, str] = {}  # rpc -> body field, from the routes table (set by ApiResources)

    def _scope(self, plan: Plan, message: Mapping[str, Any]) -> dict[str, str]:
        """The resources the path's scope parameters name, each of which must exist."""
        scope: dict[str, str] = {}
        for param, collection in plan.scope_params:
            key = _text(field_value(message, param))
            parent_key = self._key_field_of(collection)
            if not self._keyed(collection, parent_key, key):
                raise self._not_found(collection)
            scope[collection] = key
        return scope

    def _key_field_of(self, collection: str) -> str:
        return self.keys.get(collection, "id")

    def _not_found(self, collection: str | None) -> ApiError:
        noun = self.collections.get(collection or "", {}).get("noun") or _noun(collection)
        return ApiError("not_found", message=f"{noun} not found")

    def _find(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str]) -> Record:
        assert plan.collection is not None and plan.key_field is not None and plan.key_param is not None
        key = message.get(plan.key_param)  # a nested key (``a.b``) is never a resource's own
        exact = bool(self.collections.get(plan.collection, {}).get("partitioned"))
        attach = "attach" in self._effect(plan)  # the user is found before it joins the scope
        for record in self._keyed(plan.collection, plan.key_field, "" if key is None else str(key)):
            if attach or record.in_scope(scope, exact):
                return record
        raise self._not_found(plan.collection)

    def _in_scope(self, plan: Plan, scope: Mapping[str, str]) -> Iterator[Record]:
        exact = bool(self.collections.get(plan.collection or "", {}).get("partitioned"))
        return (r for r in self._records.get(plan.collection or "", ()) if r.in_scope(scope, exact))

    def _effect(self, plan: Plan) -> Mapping[str, Any]:
        return self.data.get("effects", {}).get(plan.op.rpc, {})  # type: ignore[no-any-return]

    def _create(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], body: Any) -> Item:
        assert plan.collection is not None
        spec = self.collections.get(plan.collection, {})
        properties = self.contract.schema(plan.collection).get("properties", {})
        item: Item = copy.deepcopy(spec.get("defaults", {}))
        item.update(self._fields(plan.collection, body if isinstance(body, dict) else {}))
        for param, value in message.items():  # scope fields the resource carries (organization_id)
            if param in plan.op.path_params and param in properties:
                item[param] = value
        if "organization_id" in properties and "organizationsOrganization" in scope:
            item["organization_id"] = scope["organizationsOrganization"]
        key_field = self._key_field_of(plan.collection)
        for name in ("id", key_field):
            if name in properties and not item.get(name):
                item[name] = self.new_id(spec.get("id_prefix", ""))
        self._stamp(item, properties, created=True)
        self._member_entries(plan, item, body, scope)
        self._check_unique(plan, item, scope, None)
        record = Record(item, {name: {key} for name, key in scope.items()})
        self._add(plan.collection, record)
        return _wrap(plan, item)

    def _get(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], _: Any) -> Item:
        return _wrap(plan, self._find(plan, message, scope).item)

    def _update(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], body: Any) -> Item:
        assert plan.collection is not None
        record = self._find(plan, message, scope)
        changes = self._fields(plan.collection, body if isinstance(body, dict) else {})
        changes.pop(plan.key_field or "", None)  # the key names the resource; it is not changed through it
        updated = _merged(self.contract, self.contract.schema(plan.collection), record.item, changes)
        self._check_unique(plan, updated, scope, record)
        self._stamp(updated, self.contract.schema(plan.collection).get("properties", {}), created=False)
        record.item = updated
        return _wrap(plan, updated)

    def _delete(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], _: Any) -> Item:
        assert plan.collection is not None
        record = self._find(plan, message, scope)
        self._remove(plan.collection, record)
        return {}

    def _list(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], _: Any) -> Item:
        assert plan.wrapper is not None
        items = [r.item for r in self._in_scope(plan, scope) if _matches(r.item, message, plan)]
        if plan.view:
            keep = self.contract.schema(plan.view).get("properties", {})
            items = [{k: v for k, v in item.items() if k in keep and _fits(self.contract, plan.view, k, v)}
                     for item in items]
        properties = self.contract.schema(plan.op.response_ref or "").get("properties", {})
        answer: Item = {}
        if "next_page_token" in properties or "page_number" in properties:
            answer.update(self._page(items, message, properties))
        else:
            answer[plan.wrapper] = items
        answer.setdefault(plan.wrapper, answer.pop("_items", items))
        return answer

    def _page(self, items: list[Item], message: Mapping[str, Any], properties: Mapping[str, Any]) -> Item:
        paging = self.data["paging"]
        size = int(_text(message.get("page_size")) or 0) or int(paging["default_page_size"])
        low, high = int(paging["min_page_size"]), int(paging["max_page_size"])
        if not low <= size <= high:
            raise ApiError("invalid_argument", message=f"invalid page_size: must be from {low} to {high}")
        if "page_number" in properties:  # domains page by number, from 1
            number = int(_text(message.get("page_number")) or 1)
            start = (max(number, 1) - 1) * size
            return {"_items": items[start:start + size], "page_size": size, "page_number": max(number, 1)}
        token = _text(message.get("page_token"))
        if token and not (token.isascii() and token.isdigit() and len(token) < 10):
            raise ApiError("invalid_argument", message="invalid page_token: not one this server issued")
        start = int(token or 0)
        if start > len(items):
            raise ApiError("invalid_argument", message="invalid page_token: past the end of the list")
        end = start + size
        page: Item = {"_items": items[start:end], "next_page_token": str(end) if end < len(items) else "",
                      "prev_page_token": str(max(start - size, 0)) if start else ""}
        if "total_size" in properties:
            page["total_size"] = len(items)
        return page

    def _action(self, plan: Plan, message: Mapping[str, Any], scope: Mapping[str, str], body: Any) -> Item:
        """An operation on the resource its path names last (``/organizations/{id}/settings``: that organization)."""
        record, collection = None, plan.collection
        if plan.key_param and plan.collection:
            record = self._find(plan, message, scope)
        elif plan.scope_params:
            collection = plan.scope_params[-1][1]
            key = scope[collection]
            record = self._keyed(collection, self._key_field_of(collection), key)[0]
        if record is not None:
            self._apply(plan, record, body, scope)
        answer = generate(self.contract, plan.op.response_ref, self.now())
        if record is not None:
            for name, schema in self.contract.schema(plan.op.response_ref).get("properties", {}).items():
                if _ref(schema) == collection:
                    answer[name] = record.item
        return answer

    def _apply(self, plan: Plan, record: Record, body: Any, scope: Mapping[str, str]) -> None:
        """The effect of an action on the resource it names (fixtures/resources.json ``effects``)."""
        effect = self._effect(plan)
        item = dict(record.item)
        item.update(effect.get("set", {}))
        if "merge" in effect and isinstance(body, dict):
            item[effect["merge"]] = {**item.get(effect["merge"], {}), **body}
        org = scope.get("organizationsOrganization")
        for verb in ("attach", "update_member", "detach"):
            if verb not in effect or org is None:
                continue
            entries = [m for m in item.get(effect[verb], []) if m.get("organization_id") != org]
            if verb == "attach" and org in record.scopes.get("organizationsOrganization", set()):
                raise ApiError("conflict", message="the user is already a member of the organization")
            if verb != "detach":
                member = {**self.collections.get(plan.collection or "", {}).get("member_default", {}),
                          **(body if isinstance(body, dict) else {}), "organization_id": org}
                entries.append(member)
            item[effect[verb]] = entries
            members = record.scopes.setdefault("organizationsOrganization", set())
            (members.discard if verb == "detach" else members.add)(org)
        record.item = item

    # -- helpers --------------------------------------------------------------------------------
    def _fields(self, collection: str, body: Mapping[str, Any]) -> Item:
        """The body's fields the resource has, with values its schema accepts (a create request's shape may
        differ: a role is created with permission names, and holds permission objects)."""
        return {k: copy.deepcopy(v) for k, v in body.items()
                if _fits(self.contract, collection, k, v) and not _read_only(self.contract, collection, k)}

    def _member_entries(self, plan: Plan, item: Item, body: Any, scope: Mapping[str, str]) -> None:
        """A resource created in an organization whose schema lists memberships gets one for it, from the
        body's singular field (``membership`` -> ``memberships``)."""
        org = scope.get("organizationsOrganization")
        if org is None or not isinstance(body, dict) or plan.collection is None:
            return
        for name, schema in self.contract.schema(plan.collection).get("properties", {}).items():
            entries = self.contract.schema(_ref(schema.get("items", {}))).get("properties", {})
            if schema.get("type") == "array" and name.endswith("s") and "organization_id" in entries:
                singular = body.get(name[:-1])
                entry = singular if isinstance(singular, dict) else {}
                defaults = self.collections.get(plan.collection, {}).get("member_default", {})
                item[name] = [{**defaults, **entry, "organization_id": org}]

    def _check_unique(self, plan: Plan, item: Item, scope: Mapping[str, str], current: Record | None) -> None:
        assert plan.collection is not None
        for name in self.collections.get(plan.collection, {}).get("unique", ()):
            value = item.get(name)
            if value in (None, ""):
                continue
            partitioned = bool(self.collections[plan.collection].get("partitioned"))
            for record in self._records.get(plan.collection, ()):
                if record is not current and record.item.get(name) == value and \
                        (not partitioned or record.in_scope(scope, True)):
                    noun = self.collections[plan.collection].get("noun") or _noun(plan.collection)
                    raise ApiError("conflict", message=f"{noun} with this {name} already exists")

    def _stamp(self, item: Item, properties: Mapping[str, Any], created: bool) -> None:
        now = rfc3339(self.now())
        for made, changed in _TIME_FIELDS:
            if created and made in properties:
                item[made] = now
            if changed in properties:
                item[changed] = now



# -- deriving the plans -------------------------------------------------------------------------------
def _derive_plans(contract: Contract, data: Mapping[str, Any]) -> dict[str, Plan]:
    views: Mapping[str, str] = {k: v for k, v in data.get("list_views", {}).items() if not k.startswith("_")}
    collections = set(data["collections"])
    for op in contract.operations:  # what a list answers is a collection too, even one nothing here creates
        _, ref, is_list = _response_shape(contract, op, collections)
        if is_list and ref and ref not in views:
            collections.add(ref)
    item_paths: dict[str, str] = {}  # normalized item path -> collection (the paths of get operations)
    on_path: dict[str, str] = {}  # normalized path -> the collection some operation on it answers with
    for op in contract.operations:
        wrapper, ref, is_list = _response_shape(contract, op, collections)
        if ref is None or ref not in collections or is_list:
            continue
        on_path.setdefault(normalized(op.template), ref)
        if op.method == "GET" and op.template.endswith("}"):
            item_paths.setdefault(normalized(op.template), ref)
    params = {k: v for k, v in data.get("param_collections", {}).items() if not k.startswith("_")}
    plans = {}
    for op in contract.operations:
        wrapper, ref, is_list = _response_shape(contract, op, collections)
        view = ref if is_list and ref in views else None
        collection = views.get(ref or "", ref) if ref in collections or ref in views else None
        if collection is None and not op.response_ref:  # a delete answers nothing: its path's resource
            collection = on_path.get(normalized(op.template)) or item_paths.get(normalized(op.template))
        key_param = _key_param(op.template)
        scope_params = []
        for param in op.path_params:
            if param == key_param:
                continue
            prefix = normalized(op.template[:op.template.index("{" + param) + len(param) + 2])
            parent = item_paths.get(prefix) or params.get(param)
            if parent:
                scope_params.append((param, parent))
        kind = "action" if op.rpc in data.get("effects", {}) else _kind(op, collection, is_list, key_param)
        if kind == "action" and key_param and collection is None:  # an action on the item its path names
            collection = item_paths.get(normalized(op.template.split(":")[0]))
        key_field = _key_field(contract, collection, key_param) if collection and key_param else None
        if kind != "action" and collection is None:
            kind = "action"  # nothing to store: answered from the document's schema
        plans[op.operation_id] = Plan(op, kind, collection, wrapper, key_param if key_field else None, key_field,
                                      tuple(scope_params), view)
    return plans


def _response_shape(contract: Contract, op: Operation,
                    collections: Iterable[str] = ()) -> tuple[str | None, str | None, bool]:
    """The response field that holds the resource(s) (``None``: the response is the resource), the resource
    schema, and whether it is a list."""
    if not op.response_ref:
        return None, None, False
    if op.response_ref in collections:  # GetSession answers the session itself
        return None, op.response_ref, False
    properties = contract.schema(op.response_ref).get("properties", {})
    arrays = [(n, _ref(s.get("items", {}))) for n, s in properties.items() if s.get("type") == "array"
              and _ref(s.get("items", {}))]
    if len(arrays) == 1 and op.method == "GET":
        return arrays[0][0], arrays[0][1], True
    single = [(n, _ref(s)) for n, s in properties.items() if _ref(s)]
    if single:
        return single[0][0], single[0][1], False
    return None, None, False


def _kind(op: Operation, collection: str | None, is_list: bool, key_param: str | None) -> str:
    on_item = key_param is not None
    if op.method == "GET":
        return "list" if is_list else ("get" if on_item else "action")
    if op.method == "POST" and not on_item and ":" not in op.template.rsplit("/", 1)[-1]:
        return "create"
    if on_item and op.method in ("PATCH", "PUT"):
        return "update"
    if on_item and op.method == "DELETE":
        return "delete"
    return "action"


def _key_param(template: str) -> str | None:
    """The last path parameter when the path ends with it, or with it and a ``:verb``."""
    match = _LAST_PARAM.search(template.split(":")[0] if template.endswith("}") is False else template)
    return match.group(1) if match else None


def _key_field(contract: Contract, collection: str, param: str) -> str | None:
    properties = contract.schema(collection).get("properties", {})
    for candidate in (param, "id" if param.endswith("id") else "", "name" if param.endswith("_name") else ""):
        if candidate and candidate in properties:
            return candidate
    return None


def _merged(contract: Contract, schema: Mapping[str, Any], current: Item, changes: Mapping[str, Any]) -> Item:
    """An update as grpc-gateway applies a PATCH body (its field mask is the body's fields, nested ones included):
    a nested message is merged field by field; a map (``metadata``), a list or a scalar is replaced."""
    out = dict(current)
    for name, value in changes.items():
        nested = _resolved(contract, schema.get("properties", {}).get(name, {}))
        if isinstance(value, dict) and isinstance(out.get(name), dict) and "properties" in nested:
            out[name] = _merged(contract, nested, out[name], value)
        else:
            out[name] = copy.deepcopy(value)
    return out


def _resolved(contract: Contract, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = _ref(schema)
    return contract.schema(ref) if ref else schema


def _noun(schema_name: str | None) -> str:
    """What a 404 calls a resource without a noun in the fixtures: ``directoriesDirectoryUser`` -> "directory user"."""
    words = re.findall(r"[A-Z][a-z0-9]*", schema_name or "")
    return " ".join(w.lower() for w in words) or "resource"


def _wrap(plan: Plan, item: Item) -> Item:
    return {plan.wrapper: item} if plan.wrapper else item


# -- values -------------------------------------------------------------------------------------------
def generate(contract: Contract, schema_name: str | None, now: float, depth: int = 0) -> Item:
    """A response for an operation with nothing to store: every field from the document's examples (when they
    fit the field's own schema) or the type's zero value; timestamps are now."""
    if not schema_name:
        return {}
    out: Item = {}
    for name, schema in contract.schema(schema_name).get("properties", {}).items():
        out[name] = _value(contract, schema, now, depth)
    return out


def _value(contract: Contract, schema: Mapping[str, Any], now: float, depth: int) -> Any:
    ref = _ref(schema)
    if ref:
        target = contract.schema(ref)
        if target.get("type") == "object" or "properties" in target:
            return generate(contract, ref, now, depth + 1) if depth < 3 else {}
        return _value(contract, {**target, **{k: v for k, v in schema.items() if k != "$ref"}}, now, depth)
    if schema.get("format") == "date-time":
        return rfc3339(now)
    for example in schema.get("examples", ()):
        if contract.accepts(schema, example):
            return copy.deepcopy(example)
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}.get(
        str(schema.get("type")), {})


def _ref(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _fits(contract: Contract, collection: str, name: str, value: Any) -> bool:
    schema = contract.schema(collection).get("properties", {}).get(name)
    return schema is not None and contract.accepts(schema, value)


def _read_only(contract: Contract, collection: str, name: str) -> bool:
    return bool(contract.schema(collection).get("properties", {}).get(name, {}).get("readOnly"))


def _matches(item: Item, message: Mapping[str, Any], plan: Plan) -> bool:
    """A list's filters: a query parameter named like a field must equal it; ``query`` is a substring search
    of the item's text fields (``users:search``)."""
    for param in plan.op.query_params:
        value = field_value(message, param.name)
        if value in (None, "", []) or param.name in ("page_size", "page_token", "page_number"):
            continue
        if param.name == "query":
            if not any(isinstance(v, str) and str(value).lower() in v.lower() for v in _texts(item)):
                return False
        elif param.name in item and isinstance(value, str) and item[param.name] != value:
            return False
    return True


def _texts(item: Any) -> Iterator[str]:
    if isinstance(item, str):
        yield item
    elif isinstance(item, dict):
        for value in item.values():
            yield from _texts(value)
    elif isinstance(item, list):
        for value in item:
            yield from _texts(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
