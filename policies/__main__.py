"""Policy pack entry point for `pulumi preview --policy-pack policies`: only builds the pack.

The PolicyPack constructor starts the analyzer's gRPC server and never returns, so every rule
lives in importable modules (policies/rules/) that tests and the offline plan use directly.
"""

import sys
from pathlib import Path

# The rules share the cost model with the program (infra/), one folder up.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pulumi_policy import EnforcementLevel, PolicyPack

from policies.pack import PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
