"""Just enough of the protobuf wire format for the gRPC face: no generated code, no SDK at run time.

The mock encodes a handful of messages (the organizations it serves, ``google.rpc.Status`` with
Scalekit's ``ErrorInfo``) and reads two request messages. Field numbers come from the published
``.proto`` files of the Scalekit API (``scalekit.v1.organizations``, ``scalekit.v1.errdetails``) and
from ``google/rpc/status.proto``; they are listed here, next to the code that writes them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from typing import Any

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class DecodeError(ValueError):
    """The bytes are not a protobuf message of the expected shape."""


# -- writing ----------------------------------------------------------------------------------
def varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # negative int32/int64 are sent as ten-byte two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def int_field(number: int, value: int) -> bytes:
    """An int32/int64/enum/bool field; the default 0 is not written (proto3)."""
    return _key(number, VARINT) + varint(int(value)) if value else b""


def bytes_field(number: int, value: bytes, *, always: bool = False) -> bytes:
    """A length-delimited field: bytes, a string or an embedded message (empty ones only if ``always``)."""
    if not value and not always:
        return b""
    return _key(number, LENGTH) + varint(len(value)) + value


def str_field(number: int, value: str) -> bytes:
    return bytes_field(number, value.encode("utf-8"))


# -- reading ----------------------------------------------------------------------------------
def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """The ``(number, wire type, value)`` of each field, in order; varints as ints, the rest as bytes."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise DecodeError("field number 0")
        if wire_type == VARINT:
            value, pos = _read_varint(data, pos)
            yield number, wire_type, value
        elif wire_type == LENGTH:
            size, pos = _read_varint(data, pos)
            if pos + size > end:
                raise DecodeError("a length-delimited field runs past the end")
            yield number, wire_type, data[pos:pos + size]
            pos += size
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            if pos + size > end:
                raise DecodeError("a fixed-size field runs past the end")
            yield number, wire_type, data[pos:pos + size]
            pos += size
        else:
            raise DecodeError(f"unsupported wire type {wire_type}")


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DecodeError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def read_message(data: bytes, schema: Mapping[int, tuple[str, str]]) -> dict[str, Any]:
    """Decode the fields named by ``schema`` (number → (name, "string" | "int32")); others are skipped."""
    out: dict[str, Any] = {}
    for number, wire_type, value in fields(data):
        if number not in schema:
            continue
        name, kind = schema[number]
        if kind == "string":
            if wire_type != LENGTH or not isinstance(value, bytes):
                raise DecodeError(f"field {name} is not a string")
            try:
                out[name] = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError(f"field {name} is not UTF-8") from exc
        else:
            if wire_type != VARINT or not isinstance(value, int):
                raise DecodeError(f"field {name} is not a varint")
            out[name] = value - (1 << 64) if value >= 1 << 63 else value
    return out


# -- the Scalekit messages the face speaks ------------------------------------------------------
# scalekit.v1.organizations.ListOrganizationsRequest: page_size = 1 (int32), page_token = 2, external_id = 3
LIST_ORGANIZATIONS_REQUEST = {1: ("page_size", "int32"), 2: ("page_token", "string")}
# scalekit.v1.organizations.GetOrganizationRequest: id = 1, external_id = 2
GET_ORGANIZATION_REQUEST = {1: ("id", "string"), 2: ("external_id", "string")}
REGION_CODES = {"US": 1, "EU": 2}  # scalekit.v1.commons.RegionCode; 0 is REGION_CODE_UNSPECIFIED


def timestamp(rfc3339: str) -> bytes:
    """A ``google.protobuf.Timestamp`` (seconds = 1, nanos = 2) from an RFC 3339 string."""
    moment = datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    seconds = int(moment.timestamp())
    return int_field(1, seconds) + int_field(2, moment.microsecond * 1000)


def organization(org: Mapping[str, Any]) -> bytes:
    """``scalekit.v1.organizations.Organization`` from the REST JSON shape of ``fixtures/organizations.json``.

    id = 1, create_time = 2, update_time = 3, display_name = 4, region_code = 5 (enum), external_id = 6,
    metadata = 7 (map<string,string>), settings = 8 (features = 1: name = 1, enabled = 2), slug = 9,
    logo_url = 10.
    """
    out = [str_field(1, str(org.get("id", "")))]
    for number, name in ((2, "create_time"), (3, "update_time")):
        if org.get(name):
            out.append(bytes_field(number, timestamp(str(org[name])), always=True))
    out.append(str_field(4, str(org.get("display_name") or "")))
    out.append(int_field(5, REGION_CODES.get(str(org.get("region_code") or ""), 0)))
    out.append(str_field(6, str(org.get("external_id") or "")))
    for key, value in (org.get("metadata") or {}).items():
        out.append(bytes_field(7, str_field(1, str(key)) + str_field(2, str(value)), always=True))
    features = (org.get("settings") or {}).get("features") or []
    if features:
        settings = b"".join(bytes_field(1, str_field(1, str(f.get("name", ""))) + int_field(2, bool(f.get("enabled"))),
                                        always=True) for f in features)
        out.append(bytes_field(8, settings, always=True))
    out.append(str_field(9, str(org.get("slug") or "")))
    out.append(str_field(10, str(org.get("logo_url") or "")))
    return b"".join(out)


def list_organizations_response(page: Mapping[str, Any]) -> bytes:
    """``ListOrganizationsResponse``: next_page_token = 1, total_size = 2, organizations = 3, prev_page_token = 4."""
    return b"".join([str_field(1, str(page.get("next_page_token") or "")),
                     int_field(2, int(page.get("total_size") or 0)),
                     *(bytes_field(3, organization(org), always=True) for org in page.get("organizations", [])),
                     str_field(4, str(page.get("prev_page_token") or ""))])


def get_organization_response(body: Mapping[str, Any]) -> bytes:
    """``GetOrganizationResponse``: organization = 1."""
    return bytes_field(1, organization(body["organization"]), always=True)


def status_details(code: int, message: str, type_url: str, error_code: str) -> bytes:
    """``google.rpc.Status`` (code = 1, message = 2, details = 3 as ``google.protobuf.Any``: type_url = 1,
    value = 2) carrying one ``scalekit.v1.errdetails.ErrorInfo`` (error_code = 1)."""
    detail = str_field(1, type_url) + bytes_field(2, str_field(1, error_code))
    return int_field(1, code) + str_field(2, message) + bytes_field(3, detail, always=True)
