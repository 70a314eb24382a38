"""What a YAML scalar means to Pulumi: gopkg.in/yaml.v3's resolve rules (the YAML 1.2 core schema, nearly).

Pulumi reads stack and project files with gopkg.in/yaml.v3 (pulumi/pulumi sdk/go/common/encoding/marshal.go,
`yaml.Unmarshal`); its resolve.go (go-yaml/yaml v3.0.1) decides the type of a plain scalar:
  * booleans are only true/True/TRUE/false/False/FALSE (YAML 1.1's yes/no/on/off/y/n stay text);
  * null is "", ~, null/Null/NULL; .inf/.nan spelled as in YAML 1.2;
  * integers by Go's strconv.ParseInt(base 0) after dropping "_": 0x1F, 0o17, 0b101 and also 0777 (octal);
  * floats match `[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`; an overflowing one (1e999) stays text;
  * base-60 numbers (1:30) are "purposefully unsupported" and stay text;
  * a plain scalar that starts with 4 digits and '-' and parses as a date/time is a timestamp.
"""

from __future__ import annotations

import calendar
import math
import re
from typing import Any

STR, NULL, BOOL, INT, FLOAT, TIMESTAMP = "!!str", "!!null", "!!bool", "!!int", "!!float", "!!timestamp"
RESOLVABLE = (STR, NULL, BOOL, INT, FLOAT, TIMESTAMP)  # resolve.go resolvableTag

_MAP: dict[str, tuple[str, Any]] = {
    **{s: (BOOL, True) for s in ("true", "True", "TRUE")},
    **{s: (BOOL, False) for s in ("false", "False", "FALSE")},
    **{s: (NULL, None) for s in ("", "~", "null", "Null", "NULL")},
    **{s: (FLOAT, math.nan) for s in (".nan", ".NaN", ".NAN")},
    **{s: (FLOAT, math.inf) for s in (".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF")},
    **{s: (FLOAT, -math.inf) for s in ("-.inf", "-.Inf", "-.INF")},
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")  # what strconv.ParseFloat takes of a text starting with '.'
_GO_INT = re.compile(r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))")
# resolve.go allowedTimestampFormats: "2006-1-2T15:4:5.999999999Z07:00" (T or t), "2006-1-2 15:4:5.999999999",
# "2006-1-2". Go's time.Parse checks the ranges (month, day of month, hour, minute, second).
_DATE = r"(\d{4})-(\d{1,2})-(\d{1,2})"
_TIME = r"(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?"
_TIMESTAMPS = (re.compile(_DATE + "[Tt]" + _TIME + r"(?:Z|[-+](\d{2}):(\d{2}))"), re.compile(_DATE + " " + _TIME),
               re.compile(_DATE))
INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1


def _is_timestamp(text: str) -> bool:
    """resolve.go parseTimestamp: exactly four digits then '-', then one of the three layouts, in range."""
    if not re.match(r"\d{4}-", text):
        return False
    for layout in _TIMESTAMPS:
        m = layout.fullmatch(text)
        if m is None:
            continue
        nums = [int(g) if g is not None else 0 for g in m.groups()] + [0] * 7
        year, month, day, hour, minute, second, zh, zm = nums[:8]
        days = [31, 29 if calendar.isleap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if 1 <= month <= 12 and 1 <= day <= days[month - 1] and hour < 24 and minute < 60 and second < 60 \
                and zh < 24 and zm < 60:
            return True
    return False


def _go_int(text: str) -> Any:
    """strconv.ParseInt(text, 0, 64), then ParseUint (no sign): the int, or None."""
    m = _GO_INT.fullmatch(text)
    if m is None:
        return None
    sign, hexa, octo, binary, legacy_octal, decimal = m.groups()
    digits = (hexa or octo or binary or legacy_octal or decimal or "").replace("_", "").lstrip("0")
    if len(digits) > 64:  # past uint64 in any base (ParseInt/ParseUint: ErrRange, so resolve keeps the text)
        return None
    if hexa is not None:
        value = int(hexa, 16)
    elif octo is not None:
        value = int(octo, 8)
    elif binary is not None:
        value = int(binary, 2)
    elif legacy_octal is not None:
        value = int(legacy_octal or "0", 8)
    else:
        value = int(decimal)
    value = -value if sign == "-" else value
    if INT64[0] <= value <= INT64[1] or (not sign and 0 <= value <= UINT64_MAX):
        return value
    return None


def _finite(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else None  # ParseFloat's ErrRange: resolve keeps the text


def resolve_plain(text: str) -> tuple[str, Any]:
    """(tag, value) of an untagged plain scalar, as resolve.go resolve("", text) gives it."""
    if text in _MAP:
        return _MAP[text]
    first = text[0]
    if first == "." and _DOT_FLOAT.fullmatch(text) and _finite(text) is not None:
        return FLOAT, _finite(text)
    if (first.isdigit() and first.isascii()) or first in "+-":
        if _is_timestamp(text):
            return TIMESTAMP, text
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return INT, number
        if _YAML_FLOAT.fullmatch(plain) and _finite(plain) is not None:
            return FLOAT, _finite(plain)
    return STR, text


def resolve_tagged(tag: str, text: str) -> tuple[str, Any]:
    """(tag, value) of a scalar with an explicit core tag, or ValueError as resolve.go's "cannot decode" failure."""
    if tag == STR:
        return STR, text
    got, value = resolve_plain(text)
    if got == tag:
        return got, value
    if tag == FLOAT and got == INT:
        return FLOAT, float(value)
    raise ValueError(f"a value tagged {tag} is not one ({_WORDS[got]})")


_WORDS = {STR: "it reads as text", NULL: "it reads as null", BOOL: "it reads as true/false",
          INT: "it reads as a whole number", FLOAT: "it reads as a number", TIMESTAMP: "it reads as a date"}
