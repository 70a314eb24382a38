"""cloudviper's library, in layers; a module imports only from its own folder or from a layer below.

    pricing/    price tables and the cost model (standard library only)
    config/     the user's API: typed stack config, its checks and loader, stack and policy files
    documents/  pure builders: names and tags, subnets, IAM, RBAC, user data, Admiralty objects
    (components/ and policies/ at the top level sit here)
    assembly    stack assembly: config in, components wired, outputs out
    plan/       the offline plan: mock harness, report sections, manifests, offline policy run
    ops/        tools that call AWS with boto3: preflight, price refresh, dataset upload
    cli         `python -m infra ...`

tests/test_layering.py keeps this true.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: Pulumi.yaml, stack files, policies/
