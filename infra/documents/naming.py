"""Names and tags: one place decides how resources are named and tagged."""

from __future__ import annotations

from infra.config.stack import StackConfig


def stack_tags(cfg: StackConfig) -> dict[str, str]:
    """The cost tags every taggable AWS resource carries (provider default tags)."""
    tags = {
        "project": cfg.tags.project,
        "stack": cfg.stack,
        "owner": cfg.tags.owner,
        "cost-center": cfg.tags.cost_center,
        "managed-by": "pulumi",
    }
    tags.update(cfg.tags.extra)
    return tags


def prefix(cfg: StackConfig) -> str:
    """Prefix of every physical name: `<project>-<stack>`."""
    return f"{cfg.project}-{cfg.stack}"


def cluster_name(cfg: StackConfig) -> str:
    """The Kubernetes cluster name used in subnet discovery tags."""
    return prefix(cfg)


def name_tag(cfg: StackConfig, *parts: str) -> dict[str, str]:
    """A `Name` tag for the AWS console: `<project>-<stack>-<parts...>`."""
    return {"Name": "-".join((prefix(cfg), *parts))}


def bucket_name(cfg: StackConfig, logical: str, account_id: str) -> str:
    """Default physical bucket name: `<project>-<stack>-<name>-<account>` (globally unique per account)."""
    return f"{prefix(cfg)}-{logical}-{account_id}"


def image_repository_name(cfg: StackConfig) -> str:
    """The stack's ECR repository for its own Dask image: `<project>-<stack>-dask`."""
    return f"{prefix(cfg)}-dask"
