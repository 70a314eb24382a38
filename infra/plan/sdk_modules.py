"""The SDK packages an offline plan loads, and importing exactly those: the floor a plan's cost is measured against
(bench/plan_bench.py), and what `plan` imports before freezing the collector (infra/plan/plan_command.py).

pulumi_aws and pulumi_kubernetes register their subpackages lazily (pulumi_aws/_utilities.py lazy_import: a
LazyLoader module that runs on first attribute access), so `import pulumi_aws` alone loads almost none of the
provider. tests/test_sdk_modules.py checks that importing these loads the very modules planning every example and
test stack loads, no more and no fewer.
"""

from __future__ import annotations

import gc
import importlib
import sys
import types
from collections.abc import Callable

SDK_TOPS = ("pulumi", "pulumi_policy", "pulumi_aws", "pulumi_kubernetes", "pulumi_random", "pulumi_tls")

SDK_MODULES = (
    "pulumi", "pulumi_policy", "pulumi_random", "pulumi_tls",
    *(f"pulumi_aws.{p}" for p in ("autoscaling", "budgets", "cloudwatch", "ec2", "eks", "iam", "kms", "s3", "sqs",
                                  "ssm", "vpc")),
    # apiextensions without .v1: CRDs register through its untyped CustomResource (components/k8s_objects.py crds)
    "pulumi_kubernetes.apiextensions",
    *(f"pulumi_kubernetes.{group}{version}" for group in ("admissionregistration", "apiregistration", "apps", "core",
                                                          "meta", "networking", "policy", "rbac", "storage")
      for version in ("", ".v1")),
    "pulumi_kubernetes.helm", "pulumi_kubernetes.helm.v3", "pulumi_kubernetes.yaml.yaml",
)

_PROBE = "_cloudviper_load"  # an attribute no module has


def import_sdk_modules() -> None:
    """Import (and run: lazily registered ones too) every SDK package a plan uses."""
    for name in SDK_MODULES:
        module = importlib.import_module(name)
        # Any attribute but the introspection ones (pulumi/_utils.py _LazyModule) runs a lazily registered module.
        # Not hasattr: it would also swallow an AttributeError raised while the module runs.
        try:
            getattr(module, _PROBE)
        except AttributeError as missing:
            if missing.name != _PROBE or missing.obj is not module:
                raise


def import_and_freeze() -> None:
    """For a short-lived command that plans: import the SDK modules, then (once per process) move the heap out of the
    cyclic collector's reach (gc.freeze), which would otherwise walk it again and again while nothing in it is garbage.
    Once only: a later freeze would also freeze whatever garbage is pending, never to be collected. In a command's
    process (SETTLE), full collections are put off from the imports on, for the rest of its short life (FULL_AFTER):
    settle() collects after each evaluation; commands that plan nothing (an upload) keep the collector as it is. The
    benchmark's floor (bench/plan_bench.py) imports the same way."""
    if SETTLE:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_AFTER)
    import_sdk_modules()
    if gc.get_freeze_count() == 0:
        gc.freeze()


# Set by command_process(): see settle().
SETTLE = False
# The third collector threshold of a command that plans: generation-1 collections before a full one (CPython's
# default is 10; a full collection also waits until the objects that survived since the last one are a quarter of
# those it would walk: docs.python.org/3.11/library/gc.html#gc.set_threshold, Modules/gcmodule.c long_lived_pending).
# An evaluation's objects live until it ends, so each full collection during one walks all of them again: 5 at 100
# node groups, 0.4 of 2 s, the cost per group growing with the count; and policies and report pay ~0.3 s of them on a
# dev plan. settle() collects right after each evaluation instead. (With the first two thresholds at 700 and 10, a
# full collection comes after some 7.7 million net allocations.)
FULL_AFTER = 1000


def command_process() -> None:
    """Set up the collector of a process that ends with its command (`python -m infra`, bench/sweep.py): settle after
    each evaluation (settle), and a command that plans puts off full collections (import_and_freeze)."""
    global SETTLE
    SETTLE = True


def settle(let_go: Callable[[], None]) -> None:
    """In a command's own process (SETTLE), after an evaluation: let go of it (`let_go`: pulumi's globals still hold
    its resource graph), collect its garbage, then freeze what survives (the plans the run keeps: References in
    infra/plan/program.py), so that the collector walks only the objects of the evaluation under way. Otherwise each
    evaluation's collections walk every earlier one's plan again: a hub with a hundred sources cost 54 s of CPU
    instead of 39, its sources' plans growing dearer one by one. Nothing frozen is ever collected (the docs of
    gc.freeze), so what was let go and collected first is what keeps an evaluation's graph from outliving it. Not in a
    long-lived process (the tests), which would keep what it froze."""
    if SETTLE:
        let_go()
        gc.collect()
        gc.freeze()


def loaded_sdk_modules() -> set[str]:
    """The SDK modules this process has run (a lazily registered one that never ran is not a ModuleType yet)."""
    return {name for name, module in sys.modules.items()
            if name.split(".")[0] in SDK_TOPS and type(module) is types.ModuleType}
