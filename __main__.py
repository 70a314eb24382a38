"""cloudviper: config in, platform built, outputs out."""

import pulumi

from infra.config import load_stack_config
from infra.stack import build_platform

config = load_stack_config()
for name, value in build_platform(config).items():
    pulumi.export(name, value)
