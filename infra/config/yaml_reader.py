"""Read YAML as Pulumi reads Pulumi.yaml and Pulumi.<stack>.yaml: gopkg.in/yaml.v3, with limits.

Pulumi unmarshals both files with gopkg.in/yaml.v3 (pulumi/pulumi sdk/go/common/encoding/marshal.go). Like it:
  * scalars resolve by yaml.v3's rules (yaml_scalars.py): yes/no/on/off and 1:30 are text;
  * a key defined twice in one map is refused (yaml.v3 decode.go mapping(): `mapping key %#v already defined at
    line %d`), also through the merge key `<<` (explicit keys win over merged ones, earlier merged maps over later);
  * alias expansion is bounded by yaml.v3's rule (decode.go allowedAliasRatio: "document contains excessive
    aliasing"), so a billion-laughs file fails at once instead of expanding.
Stricter than Pulumi, each with a message naming the line: non-text keys (yaml.v3 lets Pulumi turn them into text or
fail, depending on where they are), dates and the tags !!binary, !!set, !!omap, !!timestamp and local tags (Pulumi
turns a date into Go's time text, e.g. "2024-01-02 00:00:00 +0000 UTC"), more than one document (Pulumi reads the
first), and nesting deeper than MAX_DEPTH (yaml.v3 allows 10000; a stack file needs about 10).

The parser is PyYAML's event parser (libyaml when PyYAML has it: go-yaml is a port of libyaml, so the syntax
errors read the same); it never recurses, so depth is checked before anything deep is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from infra.config.file_text import FileReadError
from infra.config.yaml_scalars import RESOLVABLE, STR, TIMESTAMP, resolve_plain, resolve_tagged

MAX_DEPTH = 100
_LOADER: Any = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader
_CORE = "tag:yaml.org,2002:"
_NO_KEY, MERGE = object(), object()


def allowed_alias_ratio(decodes: int) -> float:
    """go-yaml/yaml v3.0.1 decode.go allowedAliasRatio: 99% of decodes may come from aliases up to 400,000 decodes,
    falling to 10% at 4,000,000."""
    low, high = 400_000, 4_000_000
    if decodes <= low:
        return 0.99
    if decodes >= high:
        return 0.10
    return 0.99 - 0.89 * ((decodes - low) / (high - low))


@dataclass
class Document:
    """A parsed document: its value and, per map (by id), the line of each key."""

    value: Any
    root_line: int = 1
    key_lines: dict[int, dict[str, int]] = field(default_factory=dict)

    def line(self, mapping: Any, key: str) -> Optional[int]:
        """The line `key` is written on in `mapping` (a map of this document), or None."""
        return self.key_lines.get(id(mapping), {}).get(key)


@dataclass
class _Frame:
    container: Any
    line: int
    start: int  # decodes before this collection
    anchor: Optional[str]
    key: Any = _NO_KEY
    merges: list[tuple[Any, int]] = field(default_factory=list)


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _shown(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


class _Builder:
    """Turns the event stream into plain values (dict, list, str, int, float, bool, None)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, Optional[int]]] = {}  # name -> (value, expanded size; None while open)
        self.decodes = self.aliased = self.documents = 0
        self.doc = Document(None)
        self.done = False

    def event(self, ev: Any) -> None:
        line = ev.start_mark.line + 1
        if isinstance(ev, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise FileReadError("a second YAML document starts here (---); a stack file holds one (Pulumi reads "
                                  "only the first)", line)
        elif isinstance(ev, yaml.ScalarEvent):
            self.decodes += 1
            value = self._scalar(ev, line)
            if ev.anchor:
                self.anchors[ev.anchor] = (value, 1)
            self._add(value, line)
        elif isinstance(ev, yaml.AliasEvent):
            self._alias(str(ev.anchor), line)
        elif isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._start(ev, line)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self._end()

    def _collection_tag(self, tag: Optional[str], kind: str, line: int) -> None:
        if tag in (None, "!", _CORE + kind) or not self.strict:
            return
        raise FileReadError(f"the tag {_shown(_short(tag))} is not supported here; write a plain YAML "
                          f"{'map' if kind == 'map' else 'list'}", line)

    def _start(self, ev: Any, line: int) -> None:
        is_map = isinstance(ev, yaml.MappingStartEvent)
        self._collection_tag(ev.tag, "map" if is_map else "seq", line)
        if self.stack and isinstance(self.stack[-1].container, dict) and self.stack[-1].key is _NO_KEY:
            raise FileReadError(f"a {'map' if is_map else 'list'} is used as a key; keys are text", line)
        if len(self.stack) >= MAX_DEPTH:
            raise FileReadError(f"nests more than {MAX_DEPTH} levels deep", line)
        self.decodes += 1
        frame = _Frame({} if is_map else [], line, self.decodes - 1, ev.anchor)
        if ev.anchor:
            self.anchors[ev.anchor] = (frame.container, None)
        self.stack.append(frame)

    def _end(self) -> None:
        frame = self.stack.pop()
        if frame.merges:
            self._merge(frame)
        if frame.anchor:
            self.anchors[frame.anchor] = (frame.container, self.decodes - frame.start)
        self._add(frame.container, frame.line)

    def _alias(self, name: str, line: int) -> None:
        if name not in self.anchors:
            raise FileReadError(f"unknown anchor '{_shown(name)}' referenced", line)
        value, size = self.anchors[name]
        if size is None:
            raise FileReadError(f"anchor '{_shown(name)}' value contains itself", line)
        self.decodes += 1 + size
        self.aliased += size
        if self.aliased > 100 and self.decodes > 1000 and self.aliased / self.decodes > allowed_alias_ratio(self.decodes):
            raise FileReadError("document contains excessive aliasing (each alias copies its anchor: "
                              f"{self.decodes:,} values from {self.decodes - self.aliased:,} written)", line)
        if self.stack and isinstance(self.stack[-1].container, dict) and self.stack[-1].key is _NO_KEY \
                and not isinstance(value, str):
            raise FileReadError(f"the alias *{_shown(name)} is used as a key but is not text", line)
        self._add(value, line)

    def _scalar(self, ev: Any, line: int) -> Any:
        tag, text = ev.tag, ev.value
        plain = ev.style in (None, "")
        expects_key = bool(self.stack) and isinstance(self.stack[-1].container, dict) and self.stack[-1].key is _NO_KEY
        if expects_key and plain and text == "<<" and tag in (None, "!", _CORE + "merge"):
            return MERGE  # yaml.v3 decode.go isMerge
        if tag is None and plain:
            kind, value = resolve_plain(text)
        elif tag is None or tag == "!":
            kind, value = STR, text
        elif tag.startswith(_CORE) and _short(tag) in RESOLVABLE:
            try:
                kind, value = resolve_tagged(_short(tag), text)
            except ValueError as exc:
                raise FileReadError(str(exc), line) from None
        elif self.strict:
            raise FileReadError(f"the tag {_shown(_short(tag))} is not supported in a stack file; write the value "
                              "as plain text", line)
        else:
            kind, value = STR, text
        if kind == TIMESTAMP:
            if self.strict:
                raise FileReadError("a date or time (unquoted or !!timestamp): Pulumi hands it to the program as "
                                    'Go\'s time text (e.g. "2024-01-02 00:00:00 +0000 UTC"), not as written; put it in '
                                    "quotes", line)
            kind, value = STR, text
        return value

    def _add(self, value: Any, line: int) -> None:
        if not self.stack:
            self.doc.value, self.doc.root_line = value, line
            return
        frame = self.stack[-1]
        if isinstance(frame.container, list):
            frame.container.append(value)
        elif frame.key is _NO_KEY:
            self._key(frame, value, line)
        else:
            if frame.key is MERGE:
                frame.merges.append((value, line))
            else:
                frame.container[frame.key] = value
            frame.key = _NO_KEY

    def _key(self, frame: _Frame, key: Any, line: int) -> None:
        if key is not MERGE and not isinstance(key, str):
            raise FileReadError(f"the key {_shown(yaml.safe_dump(key).split(chr(10))[0])} is not text; put it in "
                                "quotes (Pulumi reads keys as text)", line)
        lines = self.doc.key_lines.setdefault(id(frame.container), {})
        name = "<<" if key is MERGE else str(key)
        if name in lines:
            raise FileReadError(f"duplicate key {_quoted(name)} (first at line {lines[name]})", line)
        lines[name] = line
        frame.key = key

    def _merge(self, frame: _Frame) -> None:
        """Fill the keys a `<<: *base` (or `<<: [*a, *b]`) brings that the map does not set itself."""
        for value, line in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(s, dict) for s in sources):
                raise FileReadError("a merge key (<<) needs a map or a list of maps", line)
            lines = self.doc.key_lines.setdefault(id(frame.container), {})
            for source in sources:
                for key, item in source.items():
                    if key not in frame.container:
                        frame.container[key] = item
                        lines.setdefault(key, line)


def _quoted(text: str) -> str:
    return '"' + _shown(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _syntax_problem(exc: yaml.YAMLError, text: str) -> FileReadError:
    """A parser error as `not valid YAML: problem` at its line; never the file's text around it."""
    if isinstance(exc, yaml.reader.ReaderError):
        char = chr(exc.character) if isinstance(exc.character, int) else str(exc.character)
        at = text.find(char)
        return FileReadError(f"not valid YAML: unacceptable character #x{ord(char[:1] or ' '):04x}: control characters "
                           "are not allowed", text[:max(at, 0)].count("\n") + 1)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or "cannot be parsed"
    return FileReadError(f"not valid YAML: {problem}", mark.line + 1 if mark is not None else None)


def parse_yaml(text: str, strict: bool = True) -> Document:
    """The first (only) document of `text`, or FileReadError with the line. `strict`: refuse dates and unknown tags
    (stack files); otherwise they stay text (a kubeconfig held in a secret)."""
    builder = _Builder(strict)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.event(event)
    except yaml.YAMLError as exc:
        raise _syntax_problem(exc, text) from None
    return builder.doc
