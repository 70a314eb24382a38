"""cloudviper: config in, platform built, outputs out."""

from pathlib import Path

import pulumi

from infra.assembly import build_platform
from infra.config.loader import load_stack_config

config = load_stack_config(Path(__file__).resolve().parent)
for name, value in build_platform(config).items():
    pulumi.export(name, value)
