"""Process variables: Camunda 7's typed REST form <-> the plain values the engine works with.

On the wire a variable is `{"value": ..., "type": "Integer", "valueInfo": {}}`; inside the
engine it is a plain JSON-compatible Python value, and it is stored as a row holding the
canonical type name and that value as JSON. `TypedValue` is that row.

Decisions:

* Date is kept as a string in Camunda's REST date format `yyyy-MM-dd'T'HH:mm:ss.SSSZ`,
  normalised to UTC with millisecond precision ("2026-01-31T12:00:00.000+0000"), so stored
  dates compare chronologically as text. Input may omit the milliseconds and may write the
  offset as `Z`, `+hhmm` or `+hh:mm`; it must have an offset (a local time is ambiguous).
* Json may arrive as any JSON value or, as Camunda's own clients send it (Camunda requires it:
  Json is a serializable type whose value must be null or a string), as a string holding
  JSON, which is parsed. On the way out the value is the compact JSON text, as Camunda
  returns the serialized form of a Json variable.
* An explicit type with value null is a typed null (Camunda's tasklist sends empty form
  fields that way); only a missing type makes a null value the type Null.
* Strings (names, String/Date values, text inside Json) must be valid Unicode without NUL:
  PostgreSQL text and jsonb cannot hold them.
* Sizes are the UTF-8 bytes of a value's compact JSON serialization; the payload limit counts
  the names too.

Pure functions: no FastAPI, no database. Every rejection is a `BadRequest` whose detail
starts with the variable's name.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Final, NoReturn

from app.core.errors import BadRequest

VARIABLE_TYPES: Final[tuple[str, ...]] = (
    "String",
    "Integer",
    "Long",
    "Short",
    "Double",
    "Boolean",
    "Date",
    "Json",
    "Null",
)
MAX_NAME_LENGTH: Final = 255
DEFAULT_MAX_VALUE_BYTES: Final = 256 * 1024  # one variable's serialized JSON value
DEFAULT_MAX_PAYLOAD_BYTES: Final = 1024 * 1024  # all variables of one request together

_CANONICAL: Final = {name.lower(): name for name in VARIABLE_TYPES}
_UNSUPPORTED: Final = {name.lower(): name for name in ("Object", "File", "Bytes", "Xml")}
_ENTRY_KEYS: Final = frozenset({"value", "type", "valueInfo"})
_INT_RANGES: Final = {
    "Short": (-(2**15), 2**15 - 1),
    "Integer": (-(2**31), 2**31 - 1),
    "Long": (-(2**63), 2**63 - 1),
}
_MAX_JSON_DEPTH: Final = 100
_LABEL_LENGTH: Final = 64
_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})"
)
_DATE_FORMAT: Final = "yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g. 2026-01-31T12:00:00.000+0000"


@dataclass(frozen=True, slots=True)
class TypedValue:
    type: str  # canonical Camunda name, e.g. "Integer"
    value: Any  # plain JSON-compatible Python value as the engine sees it


def parse_variables(
    raw: Mapping[str, Any] | None,
    *,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> dict[str, TypedValue]:
    """The `variables` object of a request body, `{name: {"value", "type", "valueInfo"}}`.

    Refused, naming the variable: an empty, over-long or control-character name; an entry
    that is not an object or has keys besides value/type/valueInfo; an unknown or unsupported
    (Object, File, Bytes, Xml) type; a value that does not fit its type; a transient variable;
    a value over `max_value_bytes`, or the variables together over `max_payload_bytes`.
    Type names match case-insensitively; a missing type is inferred from the value.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise BadRequest("The variables must be a JSON object mapping names to typed values.")
    result: dict[str, TypedValue] = {}
    total = 0
    for name, entry in raw.items():
        typed, size = _parse_entry(name, entry, max_value_bytes)
        total += len(name.encode("utf-8")) + size
        if total > max_payload_bytes:
            _fail(
                name,
                f"the variables together exceed the limit of {max_payload_bytes} bytes "
                "(names and JSON-serialized values).",
            )
        result[name] = typed
    return result


def parse_variable(
    name: str,
    raw: Any,
    *,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> TypedValue:
    """One typed value (the body of PUT .../variables/{name}), same rules as `parse_variables`."""
    return parse_variables(
        {name: raw}, max_value_bytes=max_value_bytes, max_payload_bytes=max_payload_bytes
    )[name]


def infer(value: Any) -> TypedValue:
    """The typed value of a plain engine value (a DMN result, a script assignment ...).

    str -> String, bool -> Boolean, int -> Integer or Long, float -> Double, None -> Null,
    dict/list -> Json, datetime/date -> Date (a naive datetime is taken as UTC).
    """
    if isinstance(value, datetime):
        return TypedValue("Date", _format_date(value))
    if isinstance(value, date):
        return TypedValue("Date", _format_date(datetime.combine(value, time(), UTC)))
    return _infer(None, value)


def to_camunda(typed: TypedValue) -> dict[str, Any]:
    """`{"type", "value", "valueInfo"}` as Camunda's REST returns it; Json as JSON text."""
    value = typed.value
    if typed.type == "Json" and value is not None:
        value = _dump(value)
    return {"type": typed.type, "value": value, "valueInfo": {}}


def variables_to_camunda(values: Mapping[str, TypedValue]) -> dict[str, dict[str, Any]]:
    return {name: to_camunda(typed) for name, typed in values.items()}


def plain(values: Mapping[str, TypedValue]) -> dict[str, Any]:
    """Name -> engine value."""
    return {name: typed.value for name, typed in values.items()}


# --- one entry -------------------------------------------------------------------------------


def _parse_entry(name: Any, entry: Any, max_value_bytes: int) -> tuple[TypedValue, int]:
    _check_name(name)
    if not isinstance(entry, Mapping):
        _fail(name, "expected an object with 'value', 'type' and 'valueInfo'.")
    unknown = [key for key in entry if key not in _ENTRY_KEYS]
    if unknown:
        shown = ", ".join(repr(_short(str(key))) for key in unknown[:5])
        _fail(name, f"unknown key(s) {shown}; a variable has only value, type and valueInfo.")
    _check_value_info(name, entry.get("valueInfo"))
    value = entry.get("value")
    type_name = entry.get("type")
    if type_name is None:
        typed = _infer(name, value)
    elif isinstance(type_name, str):
        canonical = _canonical_type(name, type_name)
        typed = TypedValue(canonical, _coerce(name, canonical, value))
    else:
        _fail(name, "'type' must be a string such as String or Integer.")
    size = len(_dump(typed.value).encode("utf-8"))
    if size > max_value_bytes:
        _fail(
            name,
            f"the value is {size} bytes as JSON, over the limit of {max_value_bytes} bytes.",
        )
    return typed, size


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise BadRequest(f"A variable name must be a string, got {_kind(name)}.")
    if not name:
        _fail(name, "a variable name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        _fail(name, f"the name is longer than {MAX_NAME_LENGTH} characters.")
    if any(unicodedata.category(char) == "Cc" for char in name):
        _fail(name, "the name must not contain control characters.")
    if not _is_utf8(name):
        _fail(name, "the name is not valid Unicode.")


def _check_value_info(name: str, info: Any) -> None:
    if info is None:
        return
    if not isinstance(info, Mapping):
        _fail(name, "'valueInfo' must be an object.")
    transient = info.get("transient")
    if transient is not None and not isinstance(transient, bool):
        _fail(name, "valueInfo 'transient' must be a boolean.")
    if transient:
        _fail(name, "transient variables are not supported.")


def _canonical_type(name: str, type_name: str) -> str:
    key = type_name.lower()
    if key in _CANONICAL:
        return _CANONICAL[key]
    if key in _UNSUPPORTED:
        _fail(
            name,
            f"type '{_UNSUPPORTED[key]}' is not supported: serialized Java objects, files, "
            "byte arrays and XML cannot be stored; use Json for structured data.",
        )
    _fail(
        name,
        f"unknown type {_short(type_name)!r}; supported types are {', '.join(VARIABLE_TYPES)}.",
    )


# --- values ----------------------------------------------------------------------------------


def _coerce(name: str, type_name: str, value: Any) -> Any:
    """The engine value for an explicitly typed one; None is a typed null for every type."""
    if value is None:
        return None
    if type_name == "Null":
        _fail(name, f"a Null value must be null, got {_kind(value)}.")
    if type_name == "String":
        if not isinstance(value, str):
            _fail(name, f"a String value must be a string, got {_kind(value)}.")
        _check_text(name, value)
        return value
    if type_name == "Boolean":
        if not isinstance(value, bool):
            _fail(name, f"a Boolean value must be true or false, got {_kind(value)}.")
        return value
    if type_name in _INT_RANGES:
        low, high = _INT_RANGES[type_name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            got = "an integer outside that range" if _is_int(value) else _kind(value)
            article = "an" if type_name == "Integer" else "a"
            _fail(
                name,
                f"{article} {type_name} value must be a whole number from {low} to {high}, "
                f"got {got}.",
            )
        return value
    if type_name == "Double":
        return _double(name, value)
    if type_name == "Date":
        if not isinstance(value, str):
            _fail(name, f"a Date value must be a string in the format {_DATE_FORMAT}.")
        return _parse_date(name, value)
    assert type_name == "Json"
    if isinstance(value, str):
        value = _load(name, value)
    _check_json(name, value, 0)
    return value


def _infer(name: str | None, value: Any) -> TypedValue:
    """Camunda's untyped-value inference; bool first, since bool is an int in Python."""
    if value is None:
        return TypedValue("Null", None)
    if isinstance(value, bool):
        return TypedValue("Boolean", value)
    if isinstance(value, int):
        for type_name in ("Integer", "Long"):
            low, high = _INT_RANGES[type_name]
            if low <= value <= high:
                return TypedValue(type_name, value)
        _fail(name, "an integer outside the 64-bit Long range cannot be stored; send a String.")
    if isinstance(value, float):
        return TypedValue("Double", _double(name, value))
    if isinstance(value, str):
        _check_text(name, value)
        return TypedValue("String", value)
    if isinstance(value, dict | list):
        _check_json(name, value, 0)
        return TypedValue("Json", value)
    _fail(name, f"{_kind(value)} cannot be stored as a variable.")


def _double(name: str | None, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(name, f"a Double value must be a number, got {_kind(value)}.")
    try:
        number = float(value)
    except OverflowError:
        _fail(name, "the number is too large for a Double.")
    if not math.isfinite(number):
        _fail(name, f"a Double value must be a finite number, got {_kind(number)}.")
    return number


def _parse_date(name: str, text: str) -> str:
    match = _DATE.fullmatch(text)
    if match is None:
        _fail(name, f"a Date value must be in the format {_DATE_FORMAT}.")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    try:
        sign = -1 if offset.startswith("-") else 1
        digits = offset.lstrip("+-").replace(":", "")
        hours, minutes = (0, 0) if offset == "Z" else (int(digits[:2]), int(digits[2:]))
        if minutes >= 60:
            raise ValueError("offset minutes")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        micros = int(fraction[:3].ljust(3, "0")) * 1000
        moment = datetime(year, month, day, hour, minute, second, micros, tz)
        return _format_date(moment)
    except (ValueError, OverflowError):
        _fail(name, f"{_short(text)!r} is not a valid date ({_DATE_FORMAT}).")


def _format_date(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}+0000"
    )


def _load(name: str, text: str) -> Any:
    def refuse_constant(constant: str) -> NoReturn:
        raise ValueError(constant)

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except (ValueError, RecursionError):
        _fail(name, "a Json value given as a string must hold valid JSON.")


def _check_json(name: str | None, value: Any, depth: int) -> None:
    """A JSON document PostgreSQL's jsonb can hold: finite numbers, str keys, no NUL."""
    if depth > _MAX_JSON_DEPTH:
        _fail(name, f"the Json value is nested deeper than {_MAX_JSON_DEPTH} levels.")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(name, "a Json value must not contain NaN or infinity.")
        return
    if isinstance(value, str):
        _check_text(name, value)
        return
    if isinstance(value, list):
        for item in value:
            _check_json(name, item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(name, "the keys of a Json object must be strings.")
            _check_text(name, key)
            _check_json(name, item, depth + 1)
        return
    _fail(name, f"a Json value cannot contain {_kind(value)}.")


def _check_text(name: str | None, text: str) -> None:
    if "\x00" in text:
        _fail(name, "text must not contain the NUL character.")
    if not _is_utf8(text):
        _fail(name, "text is not valid Unicode.")


# --- helpers ---------------------------------------------------------------------------------


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_LENGTH else text[:_LABEL_LENGTH] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return "infinity" if math.isinf(value) else "a decimal number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return f"a value of Python type {type(value).__name__}"


def _fail(name: str | None, message: str) -> NoReturn:
    """A 400 whose detail starts with the variable's name (escaped, shortened)."""
    if name is None:
        raise BadRequest(message[:1].upper() + message[1:])
    raise BadRequest(f"Variable {_short(name)!r}: {message}")


@dataclass(frozen=True, slots=True)
class VariableLimits:
    """The configured size limits, applied to every variable a request brings."""

    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    def parse(self, raw: Mapping[str, Any] | None) -> dict[str, TypedValue]:
        return parse_variables(
            raw, max_value_bytes=self.max_value_bytes, max_payload_bytes=self.max_payload_bytes
        )

    def parse_one(self, name: str, raw: Any) -> TypedValue:
        return parse_variable(
            name,
            raw,
            max_value_bytes=self.max_value_bytes,
            max_payload_bytes=self.max_payload_bytes,
        )
