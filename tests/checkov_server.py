"""A checkov server for the tests: imports checkov once, then forks one child per scan that runs checkov's own CLI.

tests/checkov_client.py starts it with the checkov venv's python: `python checkov_server.py CHECKOV_SCRIPT`. A scan
through the CLI spends about 2 s of its 3-6 s importing checkov; a child forked from here starts with all of that
imported and with checkov's state untouched (each scan gets a fresh copy of it, as a fresh CLI process does).

Protocol, one JSON object per line: the server answers {"ready": true} once it has imported checkov (or
{"error": ...} and exits). Then for each request {"argv": [...], "cwd": ..., "stdout": path, "stderr": path} it forks
a child that runs the CLI with that argv in that folder, its stdout and stderr written to those files, and answers
{"returncode": ...} when the child has exited. It exits at the end of its input.

The environment is the test process's at the first scan: checkov reads much of it when imported (for example
checkov/common/parallelizer/parallel_runner.py builds its `parallel_runner` at import time). The children share the
server's hash seed, so what checkov lists from a set (a check result's evaluated_keys) comes in one order per test
process rather than a new one per scan; the findings are the same.
This file runs under the checkov venv's python, so it imports nothing from the project.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import traceback
import warnings
from typing import Any, NoReturn

# The CLI entry point, .venv-checkov/bin/checkov (pip's script for checkov 3.3.30), in full:
#     from checkov.main import Checkov
#     ...
#     with warnings.catch_warnings():
#         warnings.simplefilter("ignore", category=SyntaxWarning)
#         sys.exit(Checkov().run())
# Checkov.__init__ (checkov/main.py) defaults its argv to sys.argv[1:] evaluated when checkov.main is imported,
# that is to this server's argv: a child passes the scan's argv explicitly, and also sets sys.argv, which
# Checkov.parse_config reads itself (get_default_config_paths(sys.argv[1:]), the `-d` folder's .checkov.yaml) and
# Checkov.run records (sys.argv[0]).


def load_checkov(script: str) -> Any:
    """Import what a kubernetes scan needs and return checkov.main.Checkov, with sys.path as the script has it."""
    # A script's own folder, symbolic links resolved, comes first on its sys.path (the sys.path docs).
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    # checkov/main.py imports every runner at module level (checkov/kubernetes/runner.py among them), and the
    # runners import their checks. Listing sys.modules before and after a scan in a forked child, for every folder
    # the suite scans (with CHECKOV_PARALLELIZATION_TYPE=none too, so that the parse workers' imports show),
    # found one module imported during a scan: multiprocessing.popen_fork, which ForkProcess._Popen
    # (multiprocessing/context.py) imports when checkov's fork-based parallel runner
    # (checkov/common/parallelizer/parallel_runner.py, the default on Linux) starts its first parse worker.
    import multiprocessing.popen_fork  # noqa: F401

    from checkov.main import Checkov

    return Checkov


def exit_status(code: object) -> int:
    """The status a process exits with after `sys.exit(code)`: None is 0, an int itself, anything else is printed
    to stderr and gives 1 (Python/pythonrun.c, handle_system_exit)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def redirect(fd: int, path: str, flags: int) -> None:
    """Point file descriptor `fd` at `path`."""
    opened = os.open(path, flags, 0o600)
    os.dup2(opened, fd)
    os.close(opened)


def scan(checkov: Any, script: str, request: dict[str, Any], reply_fd: int) -> NoReturn:
    """In the forked child: run the CLI on the request's argv, then exit with the CLI's status."""
    os.close(reply_fd)  # only the server answers; the scan's processes must not hold the client's pipe open
    status = 1
    try:
        os.chdir(request["cwd"])
        redirect(0, os.devnull, os.O_RDONLY)
        redirect(1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        redirect(2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        argv = [str(a) for a in request["argv"]]
        sys.argv = [script, *argv]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=SyntaxWarning)
            status = exit_status(checkov(argv).run())
    except SystemExit as e:
        status = exit_status(e.code)
    except BaseException:  # as the interpreter: print the traceback, exit 1
        traceback.print_exc()
    # What an exiting interpreter runs, such as multiprocessing.util._exit_function, which joins the parse workers,
    # then the std streams flushed (Py_FinalizeEx). Not run: threading._shutdown, which joins non-daemon threads --
    # checkov's kubernetes framework starts none.
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def answer(reply_fd: int, message: dict[str, Any]) -> None:
    """Write one answer line to the client."""
    os.write(reply_fd, (json.dumps(message) + "\n").encode())


def serve(script: str) -> int:
    """Import checkov, then run one forked scan per request line until the input ends."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # anything printed while importing goes to stderr, not into the answers
    try:
        checkov = load_checkov(script)
    except BaseException as e:  # whatever stops the import, the client falls back to the CLI
        answer(reply_fd, {"error": f"importing checkov failed: {e!r}"})
        return 1
    # Forking is safe only without other Python threads (none after the imports). numpy's OpenBLAS runs a native
    # thread; its fork handler (openblas_fork_handler, exported by numpy.libs/libscipy_openblas64_*.so) stops it
    # before each fork, as for the parse workers that the CLI forks itself.
    if threading.active_count() != 1:
        answer(reply_fd, {"error": f"{threading.active_count()} threads after importing checkov: not forking"})
        return 1
    sys.stdout.flush()  # what the import printed, written once here rather than by every child into its answer
    sys.stderr.flush()
    answer(reply_fd, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            scan(checkov, script, request, reply_fd)
        _, wait_status = os.waitpid(pid, 0)
        answer(reply_fd, {"returncode": os.waitstatus_to_exitcode(wait_status)})
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
