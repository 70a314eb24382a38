"""Which local files `data upload` sends: refuse paths that are never a dataset, skip what is hidden or a link.

Refused outright (a usage error): an empty PATH (it meant the current folder: a whole checkout with .git and
.venv went into a bucket every Dask user can read), the filesystem root, and the home folder or any folder that
holds it (/home, /Users): a home folder holds credentials (~/.aws, ~/.ssh) and private files, never only a dataset.

Inside the folder:
- names starting with `.` (files and folders: .git, .venv, .env, .aws) are skipped unless include_hidden;
- symbolic links are never followed, wherever they point: one to outside the folder would upload what the
  folder does not hold (a link to ~ uploads a home folder), one inside would upload the same bytes twice. They
  are counted and named, so nothing is left out silently. PATH itself may be a link: naming it is a choice;
- anything that is not a regular file (sockets, FIFOs, devices) is skipped and counted too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

NAMED = 3  # skipped entries named in the summary


class PathRefusedError(ValueError):
    """PATH is not something to upload (empty, a filesystem root, a home folder or above)."""


@dataclass
class Selection:
    """The files to upload, as (file, key relative to PATH), and what was left out."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # relative names; a hidden folder counts once
    links: list[str] = field(default_factory=list)
    special: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of entry left out, naming the first few."""
        lines = []
        for names, what in ((self.hidden, "hidden entries (--include-hidden uploads them)"),
                            (self.links, "symbolic links (never followed)"),
                            (self.special, "entries that are not regular files")):
            if names:
                shown = ", ".join(names[:NAMED]) + (", ..." if len(names) > NAMED else "")
                lines.append(f"not uploaded: {len(names)} {what}: {shown}")
        return lines


# Folders that hold the home folders of every user on Linux and macOS, and root's home.
HOMES = frozenset(Path(p) for p in ("/home", "/Users", "/root", "/var/root"))


def refuse(raw: str, home: Optional[Path] = None) -> Path:
    """The path to upload, or PathRefusedError saying why not."""
    if not raw.strip():
        raise PathRefusedError("PATH is empty: name the file or folder to upload (`.` for the current folder)")
    path = Path(raw).expanduser()
    resolved = path.resolve()
    if resolved == Path(resolved.anchor):
        raise PathRefusedError(f"{raw}: refusing to upload the filesystem root; name the dataset's folder")
    if resolved in HOMES:  # every user's home, whoever runs this (root's own home is /root)
        raise PathRefusedError(f"{raw}: refusing to upload a home folder or a folder that holds one ({resolved}): "
                               "it holds credentials and private files; name the dataset's folder inside it")
    try:
        home = (home or Path.home()).resolve()
    except RuntimeError:  # no home folder known: nothing more to protect
        return path
    if resolved == home or resolved in home.parents:
        raise PathRefusedError(f"{raw}: refusing to upload a home folder or a folder that holds one ({home}): it holds "
                          "credentials and private files; name the dataset's folder inside it")
    return path


def select(path: Path, include_hidden: bool = False) -> Selection:
    """The files under `path` (or `path` itself when it is a file), sorted by key; FileNotFoundError if none."""
    found = Selection()
    if path.is_file():  # PATH itself may be a link (you named it): read the file it points to, keep its own name
        found.files.append((path.resolve(), path.name))
        return found
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    pending = [path]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = Path(entry.path).relative_to(path).as_posix()
                if entry.name.startswith(".") and not include_hidden:
                    found.hidden.append(rel + ("/" if entry.is_dir(follow_symlinks=False) else ""))
                elif entry.is_symlink():
                    found.links.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(entry.stat(follow_symlinks=False).st_mode):
                    found.files.append((Path(entry.path), rel))
                else:
                    found.special.append(rel)
    for names in (found.hidden, found.links, found.special):
        names.sort()
    found.files.sort(key=lambda item: item[1])
    return found
