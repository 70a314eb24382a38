"""`python -m infra ...`: see infra/cli.py. This process ends with its command, so its collector is set up for that
(infra/plan/sdk_modules.py command_process)."""

import sys

from infra.cli import main
from infra.plan import sdk_modules

sdk_modules.command_process()
sys.exit(main())
