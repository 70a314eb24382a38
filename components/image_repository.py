"""An ECR repository for the project's own Dask image (the default image plus the project's packages).

Scanned on push, tags immutable (a tag always means the same image, so a stack that names one is
reproducible), untagged images and old `dev-` builds expire (release tags never do), and the repository
is removed with the stack: images are rebuilt from images/dask/Dockerfile, unlike data.
"""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pulumi_aws as aws

KEEP_DEV = 10
UNTAGGED_DAYS = 7
DEV_PREFIX = "dev-"  # what the image workflow tags builds of the main branch with: dev-<commit>


def lifecycle_policy() -> dict:
    """ECR lifecycle rules that never expire an image a stack may name (a release tag such as 2026.11.1):
    untagged layers go after a week, and of the `dev-<commit>` builds only the newest ten stay.

    (docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html: priorities are
    unique, applied low to high; `tagged` needs tagPrefixList or tagPatternList; no `any` rule here.)
    """
    return {"rules": [
        {"rulePriority": 1, "description": f"untagged images after {UNTAGGED_DAYS} days",
         "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days",
                       "countNumber": UNTAGGED_DAYS}, "action": {"type": "expire"}},
        {"rulePriority": 2, "description": f"keep the newest {KEEP_DEV} {DEV_PREFIX}* builds",
         "selection": {"tagStatus": "tagged", "tagPrefixList": [DEV_PREFIX], "countType": "imageCountMoreThan",
                       "countNumber": KEEP_DEV}, "action": {"type": "expire"}},
    ]}


class ImageRepository(pulumi.ComponentResource):
    """`<project>-<stack>-dask`: push images with .github/workflows/image.yml, use them as `dask.image: ecr:<tag>`."""

    def __init__(self, name: str, repository_name: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:images:ImageRepository", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-repo", name=repository_name, image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}], force_delete=True,
            tags={"Name": repository_name}, opts=child)
        aws.ecr.LifecyclePolicy(f"{name}-lifecycle", repository=self.repository.name,
                                policy=json.dumps(lifecycle_policy()), opts=child)
        self.url: pulumi.Output[str] = self.repository.repository_url
        self.register_outputs({"repositoryUrl": self.url})

    def image(self, reference: str) -> pulumi.Input[str]:
        """An image reference, with `ecr:<tag>` resolved to this repository."""
        if reference.startswith("ecr:"):
            return self.url.apply(lambda url: f"{url}:{reference[4:]}")
        return reference
