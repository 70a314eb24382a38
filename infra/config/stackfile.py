"""Read Pulumi.yaml and Pulumi.<stack>.yaml the way the Pulumi CLI hands them to a program."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from infra.config.errors import ConfigError
from infra.config.file_text import FileReadError, read_text
from infra.config.stack import SECRET_VALUES
from infra.config.yaml_reader import Document, parse_yaml

SECRET_PLACEHOLDER = "[secret: encrypted in the stack file; not decrypted offline]"


@dataclass
class StackFile:
    """One stack's config: decoded values, which keys are secret, and its project."""

    project: str
    stack: str
    values: dict[str, Any]
    secret_keys: list[str] = field(default_factory=list)
    plain_secrets: list[str] = field(default_factory=list)  # leaves of secretValues written without `secure:`

    @property
    def region(self) -> str:
        """The stack's AWS region, or us-east-1 when it is unset (the config check reports that)."""
        region = self.values.get("aws:region")
        return region if isinstance(region, str) else "us-east-1"

    def runtime_config(self) -> dict[str, str]:
        """Config as the language host passes it: strings, structured values as JSON."""
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in self.values.items()}


def display(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    try:  # abspath, not resolve(): a symlink (or a symlink loop) is shown as the user named it
        return str(Path(os.path.abspath(path)).relative_to(os.path.abspath(os.getcwd())))
    except (ValueError, OSError):
        return str(path)


def at(path: Path, line: Optional[int], reason: str) -> str:
    """`Pulumi.dev.yaml:12: reason` (no line when none is to blame)."""
    return f"{display(path)}:{line}: {reason}" if line else f"{display(path)}: {reason}"


def read_document(path: Path) -> Document:
    """A project or stack file read as Pulumi reads it (yaml_reader), or ConfigError naming the file and line."""
    try:
        return parse_yaml(read_text(path))
    except FileNotFoundError:
        if path.name == "Pulumi.yaml":
            raise ConfigError([f"{display(path)}: no such file"]) from None
        raise ConfigError([f"{path.name}: no such file; stacks here: {', '.join(list_stacks(path.parent)) or 'none'}"]
                          ) from None
    except FileReadError as exc:
        raise ConfigError([at(path, exc.line, exc.reason)]) from None


def _top_map(path: Path, doc: Document) -> dict[str, Any]:
    """The file's top-level map (an empty file is an empty one, as for Pulumi)."""
    if doc.value is None:
        return {}
    if not isinstance(doc.value, dict):
        raise ConfigError([at(path, doc.root_line, "the file must be a map of key: value at the top (Pulumi: "
                                                   "\"expected project to be an object\")")])
    return doc.value


def _config_map(path: Path, doc: Document, top: dict[str, Any]) -> dict[str, Any]:
    """The `config:` map of a project or stack file ({} when unset or empty)."""
    config = top.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError([at(path, doc.line(top, "config"), "`config` must be a map of key: value")])
    return config


def full_key(project: str, key: str) -> Optional[str]:
    """`ns:name` of a config key as Pulumi parses it (config/key.go ParseKey, after loaders.go namespaces a bare
    key with the project): `name`, `ns:name` and the old `ns:config:name`; None for anything else."""
    parts = key.split(":")
    if len(parts) == 1:
        return f"{project}:{key}"
    if len(parts) == 2:
        return key
    if len(parts) == 3 and parts[1] == "config":
        return f"{parts[0]}:{parts[2]}"
    return None


def _project_name(path: Path, doc: Document, top: dict[str, Any]) -> str:
    name = top.get("name")
    if not isinstance(name, str) or not name:
        line = doc.line(top, "name") or doc.root_line
        raise ConfigError([at(path, line, "`name` (the project name) must be set to text")])
    return name


def project_folder(arg: str | None, default: Path, needs: tuple[str, ...] = ("Pulumi.yaml",)) -> Path:
    """The folder a --project-dir argument names (default when unset), or ConfigError naming what it lacks."""
    folder = Path(arg) if arg else default
    if not folder.is_dir():
        raise ConfigError([f"--project-dir {folder}: no such folder"])
    missing = [name for name in needs if not (folder / name).is_file()]
    if missing:
        raise ConfigError([f"--project-dir {folder}: has no {' and '.join(missing)}; a cloudviper project folder holds "
                           "Pulumi.yaml, __main__.py (copy both from this repo), Pulumi.<stack>.yaml files and "
                           "policies/config/<stack>.json"])
    return folder


def list_stacks(root: Path) -> list[str]:
    """Names of the stacks (Pulumi.<name>.yaml) in a project folder."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def is_secure(value: Any) -> bool:
    """Pulumi's isSecureValue (config/object.go): a map whose only key is `secure`, holding the ciphertext text."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def has_secure(value: Any) -> bool:
    """Whether a `secure` key is anywhere in the value (Pulumi marks the whole config key secret for one)."""
    if isinstance(value, dict):
        return "secure" in value or any(has_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secure(v) for v in value)
    return False


def _mask(value: Any) -> Any:
    if is_secure(value):
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _odd_secure(path: Path, doc: Document, full: str, value: Any) -> list[str]:
    """A `secure:` that is not `{secure: <ciphertext>}`: Pulumi reads such a map as plain config, not a secret."""
    if isinstance(value, list):
        return [p for item in value for p in _odd_secure(path, doc, full, item)]
    if not isinstance(value, dict):
        return []
    found = [] if is_secure(value) or "secure" not in value else [at(
        path, doc.line(value, "secure"), f"{full}: `secure:` must be the only key of its map and hold the text "
        "`pulumi config set --secret` writes; Pulumi reads this map as plain config (its value is not shown)")]
    return found + [p for item in value.values() for p in _odd_secure(path, doc, full, item)]


def plain_secret_leaves(project: str, config: dict[str, Any]) -> list[str]:
    """Paths (`cloudviper:secretValues.NAME`) of the secretValues leaves a stack file holds in plain text.

    Pulumi decrypts the whole key for the program and marks it secret, so only the file shows a value that was set
    without --secret next to encrypted ones (`pulumi config set --path` without --secret does exactly that)."""
    found: list[str] = []
    for key, value in config.items():
        full = full_key(project, key)
        if full != f"{project}:{SECRET_VALUES}":
            continue
        if not isinstance(value, dict):
            continue  # a shape the config check reports
        found += _plain_leaves(full, value)
    return sorted(found)


def _plain_leaves(path: str, value: Any) -> list[str]:
    """Paths under `value` that are not `{secure: ...}` (a nested map is walked; its shape is the config check's)."""
    if is_secure(value):
        return []
    if isinstance(value, dict):
        return [p for name, leaf in value.items() for p in _plain_leaves(f"{path}.{name}", leaf)]
    return [path]


def _project(root: Path) -> tuple[str, dict[str, Any]]:
    """The project name and config values (defaults and shorthand values) of Pulumi.yaml."""
    path = root / "Pulumi.yaml"
    doc = read_document(path)
    top = _top_map(path, doc)
    project = _project_name(path, doc, top)
    values: dict[str, Any] = {}
    for key, decl in _config_map(path, doc, top).items():
        full = full_key(project, key)
        if full is None:
            raise ConfigError([at(path, doc.line(top["config"], key), f"config key {key!r} {KEY_FORM}")])
        if isinstance(decl, dict) and ("default" in decl or "value" in decl):
            values[full] = decl.get("value", decl.get("default"))
        elif not isinstance(decl, dict):
            values[full] = decl
    return project, values


KEY_FORM = "is not a config key: write <namespace>:<name> (e.g. cloudviper:tags) or a bare name for this project"


def _stack_config(path: Path, project: str) -> tuple[dict[str, Any], list[str]]:
    """Pulumi.<stack>.yaml's config by full key (`ns:name`), and its problems."""
    doc = read_document(path)
    config = _config_map(path, doc, _top_map(path, doc))
    found: dict[str, Any] = {}
    written: dict[str, str] = {}
    problems: list[str] = []
    for key, value in config.items():
        full, line = full_key(project, key), doc.line(config, key)
        if full is None:
            problems.append(at(path, line, f"config key {key!r} {KEY_FORM}"))
            continue
        if full in written:  # Pulumi keeps one of the two, whichever its map iteration sees last
            problems.append(at(path, line, f"config key {key!r} is {full}, already set as {written[full]!r} (line "
                                           f"{doc.line(config, written[full])}); keep one"))
        written[full] = key
        found[full] = value
        problems += _odd_secure(path, doc, full, value)
    return found, problems


def stack_file_secrets(root: Path, stack: str) -> list[str]:
    """plain_secret_leaves of Pulumi.<stack>.yaml in `root`, or [] when there is no such file (config kept elsewhere)."""
    path = root / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
    if not path.exists():
        return []
    project = _project(root)[0] if (root / "Pulumi.yaml").exists() else ""
    config, problems = _stack_config(path, project)
    if problems:
        raise ConfigError(problems)
    return plain_secret_leaves(project, config)


def project_name(root: Path) -> str:
    """The project name from Pulumi.yaml read as load_stack_file reads it, or "" when it cannot be read."""
    try:
        return _project(root)[0]
    except ConfigError:
        return ""


def load_stack_file(root: Path, stack: str) -> StackFile:
    """Project defaults from Pulumi.yaml overlaid by Pulumi.<stack>.yaml; secure values masked."""
    project, values = _project(root)
    config, problems = _stack_config(root / f"Pulumi.{stack}.yaml", project)
    if problems:
        raise ConfigError(problems)
    secret_keys = [full for full, value in config.items() if has_secure(value)]
    values.update({full: _mask(value) for full, value in config.items()})
    return StackFile(project=project, stack=stack, values=values, secret_keys=secret_keys,
                     plain_secrets=plain_secret_leaves(project, config))


def referenced_stacks(stack: StackFile) -> list[tuple[str, bool]]:
    """Stack references (organization/project/stack) the stack's federation names, each with whether it names a
    source (True) or a target (False)."""
    fed = stack.values.get(f"{stack.project}:federation")
    fed = fed if isinstance(fed, dict) else {}  # any other shape is the config check's to report
    targets: list[Any] = fed["targets"] if isinstance(fed.get("targets"), list) else []
    sources: list[Any] = fed["sources"] if isinstance(fed.get("sources"), list) else []
    found = {t["stack"]: False for t in targets
             if isinstance(t, dict) and t.get("kind") == "stack" and isinstance(t.get("stack"), str)}
    for s in sources:
        if isinstance(s, dict) and isinstance(s.get("stack"), str):
            found.setdefault(s["stack"], True)
    return list(found.items())


def deploy_order(root: Path) -> list[str]:
    """The project's stacks in the order to deploy them: each after the target stacks it reads (a source reads its
    target's federation credential), otherwise by name. A federated pair's target comes first."""
    names = list_stacks(root)
    needs = {name: {ref.rsplit("/", 1)[-1] for ref, is_source in referenced_stacks(load_stack_file(root, name))
                    if not is_source} & set(names) - {name} for name in names}
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and needs[n] <= set(order)]
        if not ready:  # a cycle of targets: the config check of those stacks names it; deploy them by name
            ready = [n for n in names if n not in order]
        order.append(ready[0])
    return order
