"""Run checkov's CLI for the tests without paying its import on every scan.

The first scan of a test process starts tests/checkov_server.py with the checkov venv's python; it imports checkov
once and forks a child per scan that runs checkov's own CLI with the same argv, so a scan's output is the CLI's.
Each test process (each pytest-xdist worker) has its own server and temporary folder; the server stops when the
process exits. When the server cannot start, dies or does not answer in time, this scan and the later ones run the
CLI as a plain subprocess instead. Not thread-safe: one scan at a time per process.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER = Path(__file__).with_name("checkov_server.py")
START_TIMEOUT = 120.0  # importing checkov takes 2-3 s
SCAN_TIMEOUT = 180.0  # a scan takes 2-6 s; a server this late is taken for stuck, and the CLI runs instead
CLI_TIMEOUT = 600.0
# How a server can fail: it cannot be started (OSError), is late (TimeoutError), exits (EOFError), answers nonsense
# (ValueError, KeyError) or reports that it cannot serve (RuntimeError).
SERVER_ERRORS = (OSError, EOFError, ValueError, KeyError, RuntimeError)


@dataclass(frozen=True)
class CheckovRun:
    """The outcome of one CLI run, and why the server did not do it ("" when it did)."""

    stdout: str
    stderr: str
    returncode: int
    server_failure: str = ""

    def describe(self) -> str:
        """For an assertion message: the exit status, the end of stderr, and the server's failure if any."""
        text = f"checkov exited with {self.returncode}; its stderr ends: {self.stderr[-2000:]!r}"
        return text + (f" (it ran as a subprocess because {self.server_failure})" if self.server_failure else "")


def checkov_python(binary: str) -> str | None:
    """The interpreter of the checkov script: its shebang's, else the `python` next to it (a virtualenv's bin/)."""
    script = Path(binary)
    try:
        first = script.read_bytes().split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return None
    shebang = first[2:].strip() if first.startswith("#!") else ""
    if shebang and " " not in shebang and os.access(shebang, os.X_OK):
        return shebang
    sibling = script.parent / "python"
    return str(sibling) if os.access(sibling, os.X_OK) else None


def read_line(fd: int, deadline: float) -> dict[str, Any]:
    """One JSON answer line from the server, waiting at most until `deadline` (time.monotonic())."""
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("the checkov server did not answer in time")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError("the checkov server exited")
        data += chunk
    return dict(json.loads(data))


class CheckovServer:
    """A running tests/checkov_server.py: its process (leader of its own process group) and temporary folder."""

    def __init__(self, binary: str, python: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="checkov-server-"))
        self.stderr_path = self.folder / "server.err"
        try:
            with self.stderr_path.open("wb") as err:
                # Its own session: Ctrl-C at the terminal does not reach it, and killpg ends it with its scans.
                self.proc = subprocess.Popen([python, str(SERVER), binary], stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        atexit.register(self.stop)
        try:
            answer = self.answer(START_TIMEOUT)
            if not answer.get("ready"):
                raise RuntimeError(str(answer.get("error", answer)))
        except SERVER_ERRORS as e:
            raise RuntimeError(self.failure(e)) from None

    def answer(self, timeout: float) -> dict[str, Any]:
        """The server's next answer line."""
        assert self.proc.stdout is not None
        return read_line(self.proc.stdout.fileno(), time.monotonic() + timeout)

    def scan(self, args: list[str]) -> CheckovRun:
        """Run the CLI with `args` in a child of the server, in this process's working folder."""
        assert self.proc.stdin is not None
        out, err = self.folder / "stdout", self.folder / "stderr"
        for path in (out, err):
            path.unlink(missing_ok=True)  # a child that fails before opening them leaves no earlier scan's report
        request = {"argv": args, "cwd": os.getcwd(), "stdout": str(out), "stderr": str(err)}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        answer = self.answer(SCAN_TIMEOUT)
        return CheckovRun(out.read_text(), err.read_text(), int(answer["returncode"]))

    def failure(self, error: BaseException) -> str:
        """Kill the server after `error`; why it failed, with the end of its stderr."""
        self.kill()
        stderr = self.stderr_path.read_text(errors="replace")[-2000:]
        self.stop()
        return f"the checkov server failed: {error!r}; its stderr ends: {stderr!r}"

    def kill(self) -> None:
        """Kill the server's process group: the server, a scan's child and the child's workers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """End of input stops the server (one that does not stop in time is killed); its folder is removed."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_servers: dict[str, CheckovServer | str] = {}  # by checkov script: its server, or why it failed


def server_for(binary: str) -> CheckovServer | str:
    """This process's server for `binary`, started on first use; or why there is none."""
    if binary not in _servers:
        python = checkov_python(binary)
        try:
            _servers[binary] = CheckovServer(binary, python) if python else f"there is no python for {binary}"
        except SERVER_ERRORS as e:
            _servers[binary] = str(e)
    return _servers[binary]


def run_checkov(binary: str, args: list[str]) -> CheckovRun:
    """checkov's CLI `binary` with `args`: through the server, or as a subprocess if the server fails."""
    server = server_for(binary)
    if isinstance(server, CheckovServer):
        try:
            return server.scan(args)
        except SERVER_ERRORS as e:
            server = _servers[binary] = server.failure(e)
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT)
    return CheckovRun(out.stdout, out.stderr, out.returncode, server)
