"""`make fuzz`: fuzz the stack-file reader and every `python -m infra` subcommand (tests/fuzz_runner.py).

Prints inputs, the exit codes per command, tracebacks, hangs and the time; exits 1 on any traceback or hang.
`python bench/fuzz_cli.py --inputs N --seed S` (or FUZZ_INPUTS / FUZZ_SEED) changes the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzz_runner import main

if __name__ == "__main__":
    sys.exit(main())
