"""``/_mock/``: the control plane over HTTP, a thin face over ``ControlPlane``."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request

from ...core.errors import ControlError
from .render import control, json_response

bp = Blueprint("control", __name__, url_prefix="/_mock")


def _body() -> dict[str, Any]:
    if not request.get_data(cache=True):
        return {}
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # nested too deep for the JSON parser: silent=True only covers ValueError
        body = None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


def _number(body: dict[str, Any], name: str) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(f"'{name}' must be a number")
    try:
        return float(value)
    except OverflowError as exc:  # a JSON integer beyond any float
        raise ControlError(f"'{name}' is out of range") from exc


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not re.fullmatch(r"-?[0-9]{1,17}", raw):  # not "--1" nor "²", which isdigit() lets through
        raise ControlError(f"query parameter '{name}' must be a whole number")
    return int(raw)


@bp.get("/state")
def state() -> Response:
    return json_response(control().state())


@bp.post("/reset")
def reset() -> Response:
    _body()  # nothing to read, but what is sent must be a JSON object (or nothing)
    control().reset()
    return json_response(control().state())


@bp.get("/clock")
def clock() -> Response:
    plane = control()
    return json_response({"now": plane.now(), "offset": plane.clock.offset})


@bp.post("/clock/advance")
def advance_clock() -> Response:
    now = control().advance_clock(_number(_body(), "seconds"))
    return json_response({"now": now, "offset": control().clock.offset})


@bp.post("/clock/set")
def set_clock() -> Response:
    now = control().set_clock(_number(_body(), "now"))
    return json_response({"now": now, "offset": control().clock.offset})


@bp.get("/clients")
def list_clients() -> Response:
    return json_response({"clients": control().list_clients()})


@bp.put("/clients/<client_id>")
def put_client(client_id: str) -> Response:
    body = _body()
    if body.get("client_id", client_id) != client_id:
        raise ControlError("client_id in the body differs from the one in the path")
    client = control().put_client({**body, "client_id": client_id})
    return json_response(client.public())


@bp.delete("/clients/<client_id>")
def remove_client(client_id: str) -> Response:
    _body()  # nothing to read, but what is sent must be a JSON object (or nothing)
    control().remove_client(client_id)
    return json_response({"removed": client_id})


@bp.post("/keys/rotate")
def rotate_keys() -> Response:
    body = _body()
    grace = _number(body, "grace_seconds") if "grace_seconds" in body else None
    kid = control().rotate_keys(grace)
    return json_response({"kid": kid, "keys": [k["kid"] for k in control().jwks()["keys"]]})


@bp.post("/revoke")
def revoke() -> Response:
    body = _body()
    if body.get("all") is True:
        revoked = control().revoke_all()
        # In proxy mode the upstream numbers its tokens: the answer is how many relayed tokens were revoked.
        return json_response({"revoked_tokens" if control().relay else "revoked_up_to": revoked})
    jti, token = body.get("jti"), body.get("token")
    if not isinstance(jti, (str, type(None))) or not isinstance(token, (str, type(None))):
        raise ControlError("'jti' and 'token' must be strings")
    return json_response({"revoked": control().revoke(jti=jti, token=token)})


@bp.get("/faults")
def list_faults() -> Response:
    return json_response({"faults": control().list_faults()})


@bp.post("/faults")
def add_fault() -> Response:
    return json_response(control().add_fault(_body()), 201)


@bp.delete("/faults")
def clear_faults() -> Response:
    _body()  # nothing to read, but what is sent must be a JSON object (or nothing)
    control().clear_faults()
    return json_response({"faults": []})


@bp.get("/rate-limit")
def rate_limit() -> Response:
    return json_response(control().rate_limit())


@bp.put("/rate-limit")
def set_rate_limit() -> Response:
    limit = _body().get("requests_per_minute")
    if limit is None:  # a forgotten or misspelt field must not read as "no limit": DELETE says that
        raise ControlError("'requests_per_minute' is required (DELETE /_mock/rate-limit turns the limit off)")
    return json_response(control().set_rate_limit(limit))


@bp.delete("/rate-limit")
def clear_rate_limit() -> Response:
    _body()  # nothing to read, but what is sent must be a JSON object (or nothing)
    return json_response(control().set_rate_limit(None))


@bp.get("/journal")
def journal() -> Response:
    status = _int_arg("status")
    entries = control().journal_entries(path=request.args.get("path"), endpoint=request.args.get("endpoint"),
                                        status=status, since=_int_arg("since"), limit=_int_arg("limit"))
    return json_response({"entries": entries})


@bp.delete("/journal")
def clear_journal() -> Response:
    _body()  # nothing to read, but what is sent must be a JSON object (or nothing)
    control().clear_journal()
    return json_response({"entries": []})
