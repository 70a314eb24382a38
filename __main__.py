"""cloudviper: config in, platform built, outputs out."""

from pathlib import Path

import pulumi

from infra.assembly import build_platform
from infra.config.loader import load_stack_config
from infra.config.policy_file import max_hourly_usd

root = Path(__file__).resolve().parent
config = load_stack_config(root)
for name, value in build_platform(config, max_hourly_usd(config.stack, root / "policies" / "config")).items():
    pulumi.export(name, value)
