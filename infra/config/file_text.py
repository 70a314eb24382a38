"""Read a small text file the user points at (stack, project, policy config) without hanging or crashing.

Pulumi reads Pulumi.yaml and Pulumi.<stack>.yaml with os.ReadFile and drops a UTF-8 byte-order mark
(pulumi/pulumi sdk/go/common/workspace/loaders.go, readFileStripUTF8BOM). Here a FIFO or device is refused
before it is opened (opening a FIFO blocks until a writer comes), and the size is bounded.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Optional

MAX_BYTES = 1024 * 1024  # stack files are a few KB; encrypted kubeconfigs a few KB each
BOM = b"\xef\xbb\xbf"


class FileReadError(ValueError):
    """A file that cannot be read as text: `reason`, and the 1-based `line` when one is to blame."""

    def __init__(self, reason: str, line: Optional[int] = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def _check_regular(mode: int, size: int, max_bytes: int) -> None:
    if not stat.S_ISREG(mode):
        raise FileReadError(f"is {_kind(mode)}, not a file")
    if size > max_bytes:
        raise FileReadError(f"is {size:,} bytes; at most {max_bytes:,} are read (is it the right file?)")


def read_bytes(path: Path, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, or FileReadError (not a regular file, unreadable, too big). FileNotFoundError passes through."""
    try:
        st = os.stat(path)  # follows symlinks, as os.ReadFile does
        _check_regular(st.st_mode, st.st_size, max_bytes)
        # O_NONBLOCK: should the path become a FIFO after the stat, open() still returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, FileReadError):
        raise
    except PermissionError:
        raise FileReadError("cannot be read: permission denied") from None
    except OSError as exc:
        raise FileReadError(f"cannot be read: {exc.strerror or exc}") from None
    except ValueError:  # a NUL in the name
        raise FileReadError("is not a usable file name") from None
    try:
        st = os.fstat(fd)
        _check_regular(st.st_mode, st.st_size, max_bytes)
        chunks, total = [], 0
        while total <= max_bytes:
            chunk = os.read(fd, max_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise FileReadError(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise FileReadError(f"is more than {max_bytes:,} bytes; at most {max_bytes:,} are read (is it the right file?)")
    return data


def decode_text(data: bytes) -> str:
    """UTF-8 text without a leading byte-order mark, or FileReadError naming the line of the first bad byte."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise FileReadError(f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at column {column})", line) from None


def read_text(path: Path, max_bytes: int = MAX_BYTES) -> str:
    """read_bytes then decode_text."""
    return decode_text(read_bytes(path, max_bytes))

# A `pulumi stack export` of a large stack runs to a few MB; far above that is not a state file.
STATE_MAX_BYTES = 256 * 1024 * 1024
