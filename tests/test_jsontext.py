"""The mock's JSON text (``core/jsontext.py``): orjson's output, the standard encoder's where orjson refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_server.core.jsontext import compact

# What requests and resources hold: any JSON value, with integers as wide as Python's.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)


@given(JSON_VALUES)
def test_any_json_value_reads_back_as_itself(value: Any) -> None:
    assert json.loads(compact(value)) == value


def test_text_is_utf8_not_escaped_and_without_spaces() -> None:
    text = compact({"display_name": "Zürich Ünited", "n": [1, 2]})
    assert text == '{"display_name":"Zürich Ünited","n":[1,2]}'.encode()


@pytest.mark.parametrize("value", [{"big": 2 ** 70}, {1: "integer key"}, [-(2 ** 64)]])
def test_what_orjson_refuses_is_written_by_the_standard_encoder(value: Any) -> None:
    assert compact(value) == json.dumps(value, separators=(",", ":")).encode()


def test_a_value_json_cannot_hold_is_a_type_error_unless_a_default_is_given() -> None:
    with pytest.raises(TypeError):
        compact({"path": Path("/x")})
    with pytest.raises(TypeError):
        compact({"path": Path("/x"), "big": 2 ** 70})  # the fallback refuses it the same way
    assert compact({"path": Path("/x"), "big": 2 ** 70}, default=str) == b'{"path":"/x","big":1180591620717411303424}'
