"""The project's own Dask image: an ECR repository (scan on push, immutable tags, lifecycle, tagged),
`dask.image: ecr:<tag>` resolved to it, and unpinned images refused.

Sources: docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html (rule
priorities, tagStatus), moto's ECR lifecycle-policy validator (run here in server mode).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from components.image_repository import DEV_PREFIX, lifecycle_policy
from infra.config.errors import ConfigError
from infra.plan.harness import Capture
from infra.plan.manifests import manifests
from tests.aws_emulator import start_moto
from tests.conftest import CLUSTER_CONFIG

DASK = {"workers": {"cores": 1, "memory": "4Gi", "maximum": 2}, "schedulerCpu": "500m", "schedulerMemory": "1Gi"}
REPO = "aws:ecr/repository:Repository"


def run_with(run_stack: Any, **dask: Any) -> Capture:
    return run_stack(**{k.split(":")[1]: v for k, v in CLUSTER_CONFIG.items()}, dask={**DASK, **dask})


@pytest.fixture(scope="module")
def own_image(request: Any) -> Capture:
    from tests.conftest import BASE_CONFIG, run_config

    values = {**BASE_CONFIG, **CLUSTER_CONFIG,
              "cloudviper:dask": {**DASK, "imageRepository": True, "image": "ecr:2026.11.1"}}
    return run_config(values)


def test_the_repository_scans_on_push_keeps_tags_immutable_and_is_tagged(own_image):
    repo = own_image.one(REPO)
    p = repo.props
    assert p["imageTagMutability"] == "IMMUTABLE"
    assert p["imageScanningConfiguration"] == {"scanOnPush": True}
    assert p["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert p["name"] == "cloudviper-test-dask" and p["tags"]["Name"] == "cloudviper-test-dask"
    assert repo.provider_urn == own_image.one("pulumi:providers:aws").urn  # the stack's provider: default tags
    policy = json.loads(own_image.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").props["policy"])
    assert policy == lifecycle_policy()


def test_the_lifecycle_policy_is_accepted_by_ecr_and_never_expires_a_release_tag():
    rules = lifecycle_policy()["rules"]
    priorities = [r["rulePriority"] for r in rules]
    assert len(set(priorities)) == len(priorities)
    assert all(r["selection"]["tagStatus"] != "any" for r in rules)  # an `any` rule would reach release tags
    for r in rules:
        if r["selection"]["tagStatus"] == "tagged":
            assert r["selection"]["tagPrefixList"] == [DEV_PREFIX]
    assert not "2026.11.1".startswith(DEV_PREFIX)
    server, endpoint = start_moto()
    try:
        ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ecr.create_repository(repositoryName="cloudviper-test-dask", imageTagMutability="IMMUTABLE")
        ecr.put_lifecycle_policy(repositoryName="cloudviper-test-dask", lifecyclePolicyText=json.dumps(lifecycle_policy()))
        got = ecr.get_lifecycle_policy(repositoryName="cloudviper-test-dask")
        assert json.loads(got["lifecyclePolicyText"]) == lifecycle_policy()
        broken = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "everything", "countType": "imageCountMoreThan",
                                                              "countNumber": 1}, "action": {"type": "expire"}}]}
        with pytest.raises(ecr.exceptions.InvalidParameterException):  # and the validator can fail
            ecr.put_lifecycle_policy(repositoryName="cloudviper-test-dask", lifecyclePolicyText=json.dumps(broken))
    finally:
        server.stop()


def test_an_ecr_image_is_the_stacks_repository_at_that_tag(own_image):
    url = own_image.one(REPO).outputs["repositoryUrl"]
    assert url == "123456789012.dkr.ecr.us-east-1.amazonaws.com/cloudviper-test-dask"
    (cluster,) = [d for d in manifests(own_image) if d["kind"] == "DaskCluster"]
    for role in ("scheduler", "worker"):
        (c,) = cluster["spec"][role]["spec"]["containers"]
        assert c["image"] == f"{url}:2026.11.1"
    assert own_image.outputs["daskImageRepository"].value == url


def test_no_repository_unless_asked(run_stack):
    assert not run_with(run_stack).of_type(REPO)


@pytest.mark.parametrize("dask, key, message", [
    ({"image": "pangeo/pangeo-notebook"}, "cloudviper:dask.image", "is not pinned"),
    ({"image": "pangeo/pangeo-notebook:latest"}, "cloudviper:dask.image", "is not pinned"),
    ({"image": "registry.example.org:5000/dask"}, "cloudviper:dask.image", "is not pinned"),
    ({"jupyter": {"image": "quay.io/jupyter/scipy-notebook:latest"}}, "cloudviper:dask.jupyter.image", "is not pinned"),
    ({"image": "ecr:2026.11.1"}, "cloudviper:dask", "needs imageRepository: true"),
])
def test_unpinned_or_unresolvable_images_are_config_errors(run_stack, dask, key, message):
    with pytest.raises(ConfigError) as err:
        run_with(run_stack, **dask)
    text = str(err.value)
    assert key in text and message in text


def test_a_digest_is_pinned_enough(run_stack):
    image = "pangeo/pangeo-notebook@sha256:" + "0" * 64
    (cluster,) = [d for d in manifests(run_with(run_stack, image=image)) if d["kind"] == "DaskCluster"]
    assert cluster["spec"]["worker"]["spec"]["containers"][0]["image"] == image
