"""cloudviper's library, in layers (bottom first); code imports only from a row above or its own folder.

    pricing/    price tables and the cost model (standard library only)
    config/     the user's API: typed stack config, its checks and loader, stack and policy files
    documents/  pure builders: names and tags, subnets, IAM, RBAC, user data, Admiralty objects
    (components/ and policies/ at the top level: one row, neither imports the other)
    assembly, plan/, ops/  one row: stack assembly; the offline plan; tools that call AWS
    cli         `python -m infra ...`

This package's __init__ holds only ROOT. tests/test_layering.py keeps all this true.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: Pulumi.yaml, stack files, policies/
