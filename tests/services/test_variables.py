"""Process variables: Camunda's typed REST form in, plain engine values, typed form out.

Pure unit tests; every refusal checks that the 400's detail names the variable.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from app.core.errors import BadRequest
from app.services.variables import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_MAX_VALUE_BYTES,
    MAX_NAME_LENGTH,
    VARIABLE_TYPES,
    TypedValue,
    infer,
    parse_variable,
    parse_variables,
    plain,
    to_camunda,
    variables_to_camunda,
)


def refused(name: str, raw: Any, **limits: int) -> str:
    """The detail of the BadRequest for one variable; it must name the variable."""
    with pytest.raises(BadRequest) as caught:
        parse_variables({name: raw}, **limits)
    detail = caught.value.detail
    shown = name if len(name) <= 64 else name[:64] + "…"
    assert detail.startswith(f"Variable {shown!r}: "), detail
    return detail


def one(raw: Any) -> TypedValue:
    return parse_variables({"v": raw})["v"]


# --- constants -------------------------------------------------------------------------------


def test_constants_are_camundas_names_and_the_documented_limits() -> None:
    assert set(VARIABLE_TYPES) == {
        "String",
        "Integer",
        "Long",
        "Short",
        "Double",
        "Boolean",
        "Date",
        "Json",
        "Null",
    }
    assert MAX_NAME_LENGTH == 255
    assert DEFAULT_MAX_VALUE_BYTES == 256 * 1024
    assert DEFAULT_MAX_PAYLOAD_BYTES == 1024 * 1024


# --- each type: a good value accepted --------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("String", "hello", "hello"),
        ("String", "", ""),
        ("Integer", 42, 42),
        ("Integer", -(2**31), -(2**31)),
        ("Integer", 2**31 - 1, 2**31 - 1),
        ("Long", 2**31, 2**31),
        ("Long", 2**63 - 1, 2**63 - 1),
        ("Long", -(2**63), -(2**63)),
        ("Short", 2**15 - 1, 2**15 - 1),
        ("Short", -(2**15), -(2**15)),
        ("Double", 1.5, 1.5),
        ("Boolean", True, True),
        ("Boolean", False, False),
        ("Date", "2026-01-31T12:00:00.000+0000", "2026-01-31T12:00:00.000+0000"),
        ("Json", {"a": [1, 2.5, None, True, "x"]}, {"a": [1, 2.5, None, True, "x"]}),
        ("Json", [1, 2], [1, 2]),
        ("Json", 7, 7),
        ("Null", None, None),
    ],
)
def test_each_type_accepts_a_good_value(type_name: str, value: Any, expected: Any) -> None:
    typed = one({"value": value, "type": type_name, "valueInfo": {}})
    assert typed == TypedValue(type_name, expected)


def test_double_accepts_an_integer_and_converts_it_to_float() -> None:
    typed = one({"value": 3, "type": "Double"})
    assert typed == TypedValue("Double", 3.0)
    assert isinstance(typed.value, float)


def test_json_given_as_a_string_is_parsed() -> None:
    assert one({"value": '{"a": {"b": [1, 2]}}', "type": "Json"}) == TypedValue(
        "Json", {"a": {"b": [1, 2]}}
    )
    assert one({"value": '"text"', "type": "Json"}) == TypedValue("Json", "text")


def test_an_explicit_type_with_a_null_value_is_a_typed_null() -> None:
    assert one({"value": None, "type": "String"}) == TypedValue("String", None)
    assert one({"type": "Integer"}) == TypedValue("Integer", None)


def test_value_info_may_be_missing_or_null_and_unknown_value_info_keys_are_ignored() -> None:
    assert one({"value": "x", "type": "String"}) == TypedValue("String", "x")
    assert one({"value": "x", "type": "String", "valueInfo": None}) == TypedValue("String", "x")
    assert one({"value": "x", "type": "String", "valueInfo": {"transient": False, "y": 1}}) == (
        TypedValue("String", "x")
    )


# --- each type: a bad value refused ----------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "value", "words"),
    [
        ("Integer", 2**31, "from -2147483648 to 2147483647"),
        ("Integer", -(2**31) - 1, "outside that range"),
        ("Integer", "5", "got a string"),
        ("Integer", 5.5, "got a decimal number"),
        ("Integer", 5.0, "got a decimal number"),
        ("Integer", True, "got a boolean"),
        ("Long", 2**63, "outside that range"),
        ("Long", "5", "got a string"),
        ("Short", 2**15, "outside that range"),
        ("Short", False, "got a boolean"),
        ("Boolean", 1, "true or false"),
        ("Boolean", 0, "true or false"),
        ("Boolean", "true", "true or false"),
        ("Double", float("nan"), "finite"),
        ("Double", float("inf"), "finite"),
        ("Double", float("-inf"), "finite"),
        ("Double", True, "must be a number"),
        ("Double", "1.5", "must be a number"),
        ("Double", 10**400, "too large"),
        ("String", 5, "must be a string"),
        ("String", {"a": 1}, "must be a string"),
        ("String", "a\x00b", "NUL"),
        ("String", "\ud800", "not valid Unicode"),
        ("Date", "yesterday", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
        ("Date", "2026-01-31T12:00:00", "yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
        ("Date", "2026-02-30T12:00:00.000+0000", "not a valid date"),
        ("Date", "2026-01-31T25:00:00.000+0000", "not a valid date"),
        ("Date", "2026-01-31T12:00:00.000+0060", "not a valid date"),
        ("Date", 1769860800000, "must be a string"),
        ("Json", "{not json", "valid JSON"),
        ("Json", "NaN", "valid JSON"),
        ("Json", "hello", "valid JSON"),
        ("Json", {"a": float("nan")}, "NaN"),
        ("Json", {"a": "x\x00"}, "NUL"),
        ("Json", {1: "x"}, "keys"),
        ("Json", {"a": {1, 2}}, "cannot contain"),
        ("Null", 5, "must be null"),
        ("Null", "", "must be null"),
    ],
)
def test_each_type_refuses_a_bad_value_naming_the_variable(
    type_name: str, value: Any, words: str
) -> None:
    detail = refused("amount", {"value": value, "type": type_name, "valueInfo": {}})
    assert detail.startswith("Variable 'amount': ")
    assert words in detail


def test_json_nested_too_deep_is_refused() -> None:
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    assert "nested deeper" in refused("deep", {"value": deep, "type": "Json"})
    assert "valid JSON" in refused("deep", {"value": "[" * 100_000, "type": "Json"})


# --- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T12:00:00.000+0000", "2026-01-31T12:00:00.000+0000"),
        ("2026-01-31T12:00:00+0000", "2026-01-31T12:00:00.000+0000"),
        ("2026-01-31T12:00:00.5Z", "2026-01-31T12:00:00.500+0000"),
        ("2026-01-31T12:00:00.123456+00:00", "2026-01-31T12:00:00.123+0000"),
        ("2026-01-31T13:30:00.000+0130", "2026-01-31T12:00:00.000+0000"),
        ("2026-01-31T02:00:00.000-1000", "2026-01-31T12:00:00.000+0000"),
    ],
)
def test_dates_are_normalised_to_camundas_format_in_utc(text: str, expected: str) -> None:
    assert one({"value": text, "type": "Date"}) == TypedValue("Date", expected)


# --- type inference --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", TypedValue("String", "text")),
        ('{"looks": "like json"}', TypedValue("String", '{"looks": "like json"}')),
        (True, TypedValue("Boolean", True)),
        (False, TypedValue("Boolean", False)),
        (0, TypedValue("Integer", 0)),
        (2**31 - 1, TypedValue("Integer", 2**31 - 1)),
        (2**31, TypedValue("Long", 2**31)),
        (-(2**31) - 1, TypedValue("Long", -(2**31) - 1)),
        (1.25, TypedValue("Double", 1.25)),
        (None, TypedValue("Null", None)),
        ({"a": 1}, TypedValue("Json", {"a": 1})),
        ([1, "b"], TypedValue("Json", [1, "b"])),
    ],
)
def test_a_missing_type_is_inferred_from_the_json_value(value: Any, expected: TypedValue) -> None:
    assert one({"value": value}) == expected
    assert one({"value": value, "type": None}) == expected
    assert infer(value) == expected


def test_a_bool_is_inferred_as_boolean_not_integer() -> None:
    assert one({"value": True}).type == "Boolean"
    assert infer(False).type == "Boolean"


def test_an_entry_without_value_or_type_is_null() -> None:
    assert one({}) == TypedValue("Null", None)


def test_inference_refuses_values_camunda_cannot_hold() -> None:
    assert "64-bit" in refused("big", {"value": 2**63})
    assert "finite" in refused("nan", {"value": float("nan")})
    with pytest.raises(BadRequest, match="cannot be stored"):
        infer({1, 2})
    with pytest.raises(BadRequest, match="64-bit"):
        infer(2**64)


def test_infer_turns_a_datetime_into_a_date_string() -> None:
    aware = datetime(2026, 1, 31, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert infer(aware) == TypedValue("Date", "2026-01-31T12:00:00.123+0000")
    assert infer(datetime(2026, 1, 31, 12, 0)) == TypedValue("Date", "2026-01-31T12:00:00.000+0000")
    assert infer(date(2026, 1, 31)) == TypedValue("Date", "2026-01-31T00:00:00.000+0000")


def test_an_inferred_date_parses_back_to_the_same_value() -> None:
    typed = infer(datetime(2026, 1, 31, 12, 0, tzinfo=UTC))
    assert parse_variable("d", to_camunda(typed)) == typed


# --- type names ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["integer", "INTEGER", "Integer", "iNtEgEr"])
def test_type_names_match_case_insensitively_and_report_canonically(spelling: str) -> None:
    assert one({"value": 5, "type": spelling}) == TypedValue("Integer", 5)


def test_lowercase_json_and_string_are_accepted() -> None:
    assert one({"value": "x", "type": "string"}) == TypedValue("String", "x")
    assert one({"value": "[1]", "type": "json"}) == TypedValue("Json", [1])


def test_an_unknown_type_is_refused_naming_the_variable_and_the_supported_types() -> None:
    detail = refused("fruit", {"value": "x", "type": "Banana"})
    assert "unknown type 'Banana'" in detail
    assert "String, Integer" in detail


@pytest.mark.parametrize("type_name", ["Object", "object", "File", "Bytes", "Xml"])
def test_object_file_bytes_and_xml_are_refused_as_not_supported(type_name: str) -> None:
    detail = refused(
        "payload",
        {
            "value": '{"a": 1}',
            "type": type_name,
            "valueInfo": {"objectTypeName": "com.example.X", "serializationDataFormat": "json"},
        },
    )
    assert "is not supported" in detail
    assert type_name.capitalize() in detail


def test_a_type_that_is_not_a_string_is_refused() -> None:
    assert "'type' must be a string" in refused("t", {"value": 1, "type": 5})


# --- names -----------------------------------------------------------------------------------


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_variables({"": {"value": 1}})
    assert caught.value.detail.startswith("Variable '': ")
    assert "must not be empty" in caught.value.detail


def test_a_name_of_255_characters_is_accepted_and_256_refused() -> None:
    assert parse_variables({"n" * 255: {"value": 1}})["n" * 255] == TypedValue("Integer", 1)
    long_name = "x" * 256
    detail = refused(long_name, {"value": 1})
    assert "longer than 255 characters" in detail
    assert len(detail) < 200  # the name is shortened in the message


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "nul\x00", "del\x7f", "c1\x85"])
def test_a_name_with_a_control_character_is_refused(name: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_variables({name: {"value": 1}})
    detail = caught.value.detail
    assert detail.startswith(f"Variable {name!r}: ")
    assert "control characters" in detail


def test_a_name_with_unicode_letters_and_spaces_is_accepted() -> None:
    assert parse_variables({"Größe des Kunden": {"value": 1}})["Größe des Kunden"].value == 1


def test_a_name_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(BadRequest, match="must be a string"):
        parse_variables({5: {"value": 1}})  # type: ignore[dict-item]


# --- entry shape -----------------------------------------------------------------------------


@pytest.mark.parametrize("entry", [5, "text", None, [1, 2], True])
def test_an_entry_that_is_not_an_object_is_refused(entry: Any) -> None:
    assert "expected an object" in refused("plainValue", entry)


def test_an_unknown_key_in_an_entry_is_refused() -> None:
    detail = refused("amount", {"value": 1, "type": "Integer", "valueInfo": {}, "scope": "local"})
    assert "unknown key(s) 'scope'" in detail


def test_value_info_that_is_not_an_object_is_refused() -> None:
    assert "'valueInfo' must be an object" in refused("v", {"value": 1, "valueInfo": "x"})


def test_transient_variables_are_refused() -> None:
    assert "transient" in refused("t", {"value": 1, "valueInfo": {"transient": True}})
    assert "transient" in refused("t", {"value": 1, "valueInfo": {"transient": "yes"}})


def test_the_variables_object_must_be_an_object_and_may_be_absent() -> None:
    assert parse_variables(None) == {}
    assert parse_variables({}) == {}
    with pytest.raises(BadRequest, match="variables must be a JSON object"):
        parse_variables([{"value": 1}])  # type: ignore[arg-type]


# --- size limits -----------------------------------------------------------------------------


def test_a_value_over_the_per_value_limit_is_refused_saying_the_limit() -> None:
    ok = "a" * 98  # 100 bytes as JSON with its quotes
    assert one_limited(ok, max_value_bytes=100) == TypedValue("String", ok)
    detail = refused("big", {"value": ok + "a", "type": "String"}, max_value_bytes=100)
    assert "101 bytes" in detail
    assert "limit of 100 bytes" in detail


def test_the_per_value_limit_counts_utf8_bytes_of_the_json() -> None:
    detail = refused("utf8", {"value": "é" * 50}, max_value_bytes=100)  # 2 + 100 bytes
    assert "102 bytes" in detail


def test_a_json_string_is_measured_as_the_stored_compact_json() -> None:
    spaced = "[" + ", ".join(["1"] * 40) + "]"  # 120 characters, 81 bytes compact
    assert parse_variables({"j": {"value": spaced, "type": "Json"}}, max_value_bytes=81)["j"] == (
        TypedValue("Json", [1] * 40)
    )


def test_the_default_per_value_limit_applies() -> None:
    detail = refused("huge", {"value": "a" * DEFAULT_MAX_VALUE_BYTES})
    assert f"limit of {DEFAULT_MAX_VALUE_BYTES} bytes" in detail


def test_the_whole_payload_over_the_limit_is_refused_naming_the_variable_that_crossed_it() -> None:
    raw = {f"v{i}": {"value": "a" * 30} for i in range(5)}  # each 2 + 32 bytes
    assert len(parse_variables(raw, max_payload_bytes=170)) == 5
    with pytest.raises(BadRequest) as caught:
        parse_variables(raw, max_payload_bytes=169)
    detail = caught.value.detail
    assert detail.startswith("Variable 'v4': ")
    assert "together exceed the limit of 169 bytes" in detail


def test_the_default_payload_limit_applies() -> None:
    raw = {f"v{i}": {"value": "a" * 200_000} for i in range(6)}
    with pytest.raises(BadRequest) as caught:
        parse_variables(raw)
    assert caught.value.detail.startswith("Variable 'v5': ")
    assert f"limit of {DEFAULT_MAX_PAYLOAD_BYTES} bytes" in caught.value.detail


def one_limited(value: Any, **limits: int) -> TypedValue:
    return parse_variables({"v": {"value": value}}, **limits)["v"]


# --- parse_variable --------------------------------------------------------------------------


def test_parse_variable_applies_the_same_rules_to_one_entry() -> None:
    assert parse_variable("n", {"value": "7", "type": "Json"}) == TypedValue("Json", 7)
    with pytest.raises(BadRequest) as caught:
        parse_variable("n", {"value": "7", "type": "Integer"})
    assert caught.value.detail.startswith("Variable 'n': ")
    with pytest.raises(BadRequest, match="limit of 10 bytes"):
        parse_variable("n", {"value": "a" * 20}, max_value_bytes=10)
    with pytest.raises(BadRequest, match="must not be empty"):
        parse_variable("", {"value": 1})


# --- output ----------------------------------------------------------------------------------


def test_to_camunda_returns_type_value_and_empty_value_info() -> None:
    assert to_camunda(TypedValue("Integer", 5)) == {"type": "Integer", "value": 5, "valueInfo": {}}
    assert to_camunda(TypedValue("Null", None)) == {"type": "Null", "value": None, "valueInfo": {}}


def test_to_camunda_returns_json_as_compact_json_text() -> None:
    out = to_camunda(TypedValue("Json", {"name": "Größe", "items": [1, 2]}))
    assert out == {"type": "Json", "value": '{"name":"Größe","items":[1,2]}', "valueInfo": {}}
    assert to_camunda(TypedValue("Json", None))["value"] is None


def test_round_trip_parse_then_to_camunda_then_parse() -> None:
    body = {
        "s": {"value": "text", "type": "String", "valueInfo": {}},
        "i": {"value": 5, "type": "Integer", "valueInfo": {}},
        "l": {"value": 2**40, "type": "Long", "valueInfo": {}},
        "h": {"value": 7, "type": "Short", "valueInfo": {}},
        "d": {"value": 2.5, "type": "Double", "valueInfo": {}},
        "b": {"value": True, "type": "Boolean", "valueInfo": {}},
        "t": {"value": "2026-01-31T12:00:00.000+0000", "type": "Date", "valueInfo": {}},
        "j": {"value": '{"a":[1,{"b":null}]}', "type": "Json", "valueInfo": {}},
        "n": {"value": None, "type": "Null", "valueInfo": {}},
    }
    parsed = parse_variables(body)
    out = variables_to_camunda(parsed)
    assert out == body
    assert parse_variables(out) == parsed
    assert json.loads(json.dumps(out)) == out


def test_plain_gives_the_engine_values() -> None:
    parsed = parse_variables(
        {
            "amount": {"value": 10, "type": "Long"},
            "approved": {"value": False},
            "order": {"value": '{"id": 1}', "type": "Json"},
            "due": {"value": "2026-01-31T12:00:00Z", "type": "Date"},
        }
    )
    assert plain(parsed) == {
        "amount": 10,
        "approved": False,
        "order": {"id": 1},
        "due": "2026-01-31T12:00:00.000+0000",
    }


def test_variables_keep_their_request_order() -> None:
    parsed = parse_variables({"z": {"value": 1}, "a": {"value": 2}, "m": {"value": 3}})
    assert list(parsed) == ["z", "a", "m"]
    assert list(variables_to_camunda(parsed)) == ["z", "a", "m"]
