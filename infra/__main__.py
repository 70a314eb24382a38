"""`python -m infra ...`: see infra/cli.py. This process ends with its command, so plans settle the collector
(infra/plan/sdk_modules.py SETTLE)."""

import sys

from infra.cli import main
from infra.plan import sdk_modules

sdk_modules.SETTLE = True
sys.exit(main())
