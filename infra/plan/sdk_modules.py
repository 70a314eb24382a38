"""The SDK packages an offline plan loads, and importing exactly those: the floor a plan's cost is measured against
(bench/plan_bench.py), and what `plan` imports before freezing the collector (infra/plan/plan_command.py).

pulumi_aws and pulumi_kubernetes register their subpackages lazily (pulumi_aws/_utilities.py lazy_import: a
LazyLoader module that runs on first attribute access), so `import pulumi_aws` alone loads almost none of the
provider. tests/test_sdk_modules.py checks that importing these loads the very modules planning every example and
test stack loads, no more and no fewer.
"""

from __future__ import annotations

import importlib
import sys
import types

SDK_TOPS = ("pulumi", "pulumi_policy", "pulumi_aws", "pulumi_kubernetes", "pulumi_random", "pulumi_tls")

SDK_MODULES = (
    "pulumi", "pulumi_policy", "pulumi_random", "pulumi_tls",
    *(f"pulumi_aws.{p}" for p in ("autoscaling", "budgets", "cloudwatch", "ec2", "eks", "iam", "kms", "s3", "sqs",
                                  "ssm", "vpc")),
    *(f"pulumi_kubernetes.{group}{version}" for group in ("admissionregistration", "apiextensions", "apiregistration",
                                                          "apps", "core", "meta", "networking", "policy", "rbac",
                                                          "storage") for version in ("", ".v1")),
    "pulumi_kubernetes.helm", "pulumi_kubernetes.helm.v3", "pulumi_kubernetes.yaml.yaml",
)


def import_sdk_modules() -> None:
    """Import (and run: lazily registered ones too) every SDK package a plan uses."""
    for name in SDK_MODULES:
        module = importlib.import_module(name)
        # Any attribute but the introspection ones (pulumi/_utils.py _LazyModule) runs a lazily registered module.
        hasattr(module, "_cloudviper_load")


def loaded_sdk_modules() -> set[str]:
    """The SDK modules this process has run (a lazily registered one that never ran is not a ModuleType yet)."""
    return {name for name, module in sys.modules.items()
            if name.split(".")[0] in SDK_TOPS and type(module) is types.ModuleType}
