"""Config error messages: pydantic's errors as `ns:key.path: value what-is-allowed` lines."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Optional

from pydantic import BaseModel, TypeAdapter, ValidationError

from infra.config.errors import key_path, render_value, unknown

_FRIENDLY = {
    "missing": "is required",
    "int_parsing": "is not allowed: expected a whole number",
    "int_type": "is not allowed: expected a whole number",
    "int_from_float": "is not allowed: expected a whole number",
    "bool_parsing": "is not allowed: expected true or false",
    "bool_type": "is not allowed: expected true or false",
    "string_type": "is not allowed: expected a string",
    "list_type": "is not allowed: expected a list",
    "dict_type": "is not allowed: expected a map of key: value",
    "model_type": "is not allowed: expected a map of key: value",
    "model_attributes_type": "is not allowed: expected a map of key: value",
}


def _allowed_keys(model: Any, loc: tuple[Any, ...]) -> Optional[list[str]]:
    """The keys a model accepts at `loc` (to list them when a key is unknown)."""
    current = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = next(
            (f for n, f in current.model_fields.items() if (f.alias or n) == part), None
        )
        if field is None:
            return None
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        inner = [a for a in args if issubclass(a, BaseModel)]
        current = inner[0] if inner else ann
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return None


def _root_model(validator: Any) -> Any:
    """The model class of a section, also for lists of models (whose validators wrap the model's schema)."""
    if not isinstance(validator, TypeAdapter):
        return validator
    schema = validator.core_schema.get("items_schema", {})
    while isinstance(schema, dict) and "cls" not in schema and "schema" in schema:
        schema = schema["schema"]  # function-after/before wrappers around the model schema
    return schema.get("cls") if isinstance(schema, dict) else None


HIDDEN = "(a secret: its value is not shown)"
FRAGMENT = 12  # a run of this many characters of a secret, in any message, is hidden
SHORTEST = 6  # secrets shorter than FRAGMENT are hidden where they occur whole, from this length
# The structure of a kubeconfig or PEM (kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/)
# and the placeholder account id of our messages: shared with ordinary text, never what makes a value secret.
PUBLIC_WORDS = ("apiVersion: v1", "kind: Config", "current-context", "certificate-authority-data", "client-certificate-data",
                "client-key-data", "clusters:", "contexts:", "users:", "server: https://", "preferences: {}",
                "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", "123456789012", "client.authentication.k8s.io")


def secret_texts(value: Any) -> list[str]:
    """The texts a secret config value holds, whatever its shape: string leaves, and numbers as written."""
    if isinstance(value, dict):
        return [t for v in value.values() for t in secret_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in secret_texts(v)]
    if isinstance(value, str):
        return [value]
    return [] if value is None or isinstance(value, bool) else [str(value)]


class Redactor:
    """Hides secrets in message text: every place it shows FRAGMENT characters in a row of a secret (also as JSON or
    repr() escape it: a PEM's newlines become \\n), and whole short secrets. Pulumi's own masking of program output
    replaces exact secret values only, so a truncated or escaped one would get through."""

    def __init__(self, secrets: Iterable[str], public: Iterable[str] = ()) -> None:
        """`public`: texts that are not secret (the rest of the config, the project and stack names): a run of
        characters a secret shares with them (a kubeconfig's cluster name or keys, an account id) stays visible."""
        self.grams: set[str] = set()
        self.whole: set[str] = set()
        for secret in secrets:
            for text in {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
                         repr(secret)[1:-1]}:
                if len(text) >= FRAGMENT:
                    self.grams.update(text[i:i + FRAGMENT] for i in range(len(text) - FRAGMENT + 1))
                elif len(text) >= SHORTEST:
                    self.whole.add(text)
        # a run that is public but for one character at either end (" cloudviper-", ":123456789012") is public too
        shorter = {text[i:i + FRAGMENT - 1] for text in (*public, *PUBLIC_WORDS)
                   for i in range(len(text) - FRAGMENT + 2)}
        self.grams = {g for g in self.grams if g[1:] not in shorter and g[:-1] not in shorter}

    def __call__(self, message: str) -> str:
        """`message` with each run of secret characters replaced by HIDDEN."""
        hide = bytearray(len(message))
        if self.grams:
            for i in range(len(message) - FRAGMENT + 1):
                if message[i:i + FRAGMENT] in self.grams:
                    hide[i:i + FRAGMENT] = b"\x01" * FRAGMENT
        for text in self.whole:
            start = message.find(text)
            while start >= 0:
                hide[start:start + len(text)] = b"\x01" * len(text)
                start = message.find(text, start + 1)
        if not any(hide):
            return message
        out, i = [], 0
        while i < len(message):
            if hide[i]:
                while i < len(message) and hide[i]:
                    i += 1
                out.append(HIDDEN)
            else:
                out.append(message[i])
                i += 1
        return "".join(out)


def describe_errors(namespace: str, key: str, validator: Any, exc: ValidationError, secret: bool = False) -> list[str]:
    """Turn pydantic errors into `ns:key.path: value what-is-allowed` lines; a `secret` key's values are never shown."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = key_path(namespace, key, loc)
        kind = err["type"]
        if kind == "missing":
            problems.append(f"{path} is required")
            continue
        value = HIDDEN if secret else render_value(err.get("input"))
        if kind == "extra_forbidden":
            parent_loc = loc[:-1]
            model = _root_model(validator)
            if isinstance(validator, TypeAdapter):
                parent_loc = tuple(p for p in parent_loc if not isinstance(p, int))
            allowed = _allowed_keys(model, parent_loc) if model is not None else None
            problems.append(f"{path}: {unknown('key', str(loc[-1]), allowed)}" if allowed else f"{path}: unknown key")
            continue
        message = _FRIENDLY.get(kind)
        if message is None:
            message = str(err["msg"])
            if message.startswith("Value error, "):
                message = message[len("Value error, "):]
            elif message.startswith("Input should be"):
                message = "is not allowed: expected" + message[len("Input should be"):]
            elif message.startswith("List should have"):
                message = "is not allowed: list should have" + message[len("List should have"):]
        problems.append(f"{path}: {value} {message}")
    return problems


PATH_RE = re.compile(r"\b([a-z][\w-]*):([A-Za-z]\w*)((?:\[\d+\]|\.[A-Za-z]\w*)*)")
PART_RE = re.compile(r"\[(\d+)\]|\.([A-Za-z]\w*)")


def _named_path(raw: dict[str, Any], ns: str, key: str, rest: str) -> str:
    """`ns:key[2].x` with each list index replaced by the element's name (`[workers]`) when names are unique."""
    node: Any = raw.get(f"{ns}:{key}")
    out = ""
    for index, attr in PART_RE.findall(rest):
        if attr:
            out += f".{attr}"
            node = node.get(attr) if isinstance(node, dict) else None
            continue
        i = int(index)
        item = node[i] if isinstance(node, list) and i < len(node) else None
        names = [e.get("name") for e in node] if isinstance(node, list) and all(isinstance(e, dict) for e in node) else []
        name = item.get("name") if isinstance(item, dict) else None
        unique = isinstance(name, str) and names.count(name) == 1 and re.fullmatch(r"[\w.-]+", name)
        out += f"[{name}]" if unique else f"[{i}]"
        node = item
    return f"{ns}:{key}{out}"


def with_names(problem: str, project: str, raw: dict[str, Any]) -> str:
    """The problem with list indices of config paths replaced by element names: nodeGroups[workers], not [1]."""
    def swap(m: re.Match[str]) -> str:
        return _named_path(raw, m.group(1), m.group(2), m.group(3)) if m.group(1) == project else m.group(0)

    return PATH_RE.sub(swap, problem)


def duplicate_names(project: str, key: str, prefix: tuple[Any, ...], names: list[str]) -> list[str]:
    """`ns:key...[i].name: "x" is already used by ...[j]` for every repeated name in a list."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    label = key + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in prefix)
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{key_path(project, key, (*prefix, i, 'name'))}: {render_value(name)} is already used "
                            f"by {label}[{seen[name]}]; names must be unique")
        seen.setdefault(name, i)
    return problems
