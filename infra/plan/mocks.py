"""Pulumi mocks that answer provider calls and registrations as AWS would, for one region.

Invokes (zones, region, identity, partition, SSM/AMI lookups) get realistic values; created
resources get ids, ARNs and the outputs later resources read (cluster endpoint and OIDC issuer,
queue URL, token Secrets filled by the token controller, stack references from planned stacks).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks

from infra.plan.secret_values import StackOutput, unwrap

ACCOUNT_ID = "123456789012"

_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat", "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce", "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg", "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/flowLog:FlowLog": "fl",
}


def mock_digest(type_token: str, name: str) -> str:
    """The hex digest every id, ARN and endpoint the mocks invent for this resource contains (17 digits; KMS key
    ids carry its first 12): what `infra.plan.resource_list` looks for to mark values known only after apply."""
    return hashlib.sha1(f"{type_token}/{name}".encode()).hexdigest()[:17]


class CloudMocks(pulumi_mocks.Mocks):
    """Answers provider calls and resource registrations as AWS would, for one region."""

    def __init__(self, region: str, stack_references: Optional[dict[str, dict[str, Any]]] = None) -> None:
        self.region = region
        self.stack_references = stack_references or {}
        self.invokes: list[tuple[str, dict[str, Any]]] = []  # every provider call, in order: what the program asks

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:  # type: ignore[override]
        token, a = args.token, args.args
        self.invokes.append((token, dict(a)))
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            letters = "abcdef" if self.region == "us-east-1" else "abc"
            names = [f"{self.region}{x}" for x in letters]
            ids = [f"use1-az{i + 1}" for i in range(len(names))]
            return {"names": names, "zoneIds": ids, "id": self.region, "groupNames": [self.region]}
        if token == "aws:index/getRegion:getRegion":
            return {"name": self.region, "region": self.region, "id": self.region,
                    "endpoint": f"ec2.{self.region}.amazonaws.com", "description": self.region}
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/ci",
                    "userId": "AIDAEXAMPLE", "id": ACCOUNT_ID}
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws",
                    "reverseDnsPrefix": "com.amazonaws"}
        if token == "aws:ssm/getParameter:getParameter":
            name = str(a.get("name", ""))
            digest = hashlib.sha1(name.encode()).hexdigest()[:17]
            return {"name": name, "value": f"ami-{digest}", "type": "String", "id": name,
                    "arn": f"arn:aws:ssm:{self.region}::parameter{name}", "version": 1,
                    "insecureValue": f"ami-{digest}"}
        if token == "aws:ec2/getAmi:getAmi":
            return {"id": "ami-0123456789abcdef0", "imageId": "ami-0123456789abcdef0",
                    "architecture": "x86_64"}
        return {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[Optional[str], dict]:
        typ, name, inputs = args.typ, args.name, dict(args.inputs)
        if typ == "pulumi:pulumi:StackReference":
            ref = str(inputs.get("name", name))
            if ref not in self.stack_references:
                raise pulumi.RunError(f"stack reference {ref!r}: no such stack in this plan")
            outputs = self.stack_references[ref]
            secret = [k for k, v in outputs.items() if isinstance(v, StackOutput) and v.secret]
            plain = {k: v.value if isinstance(v, StackOutput) else v for k, v in outputs.items()}
            return ref, {"name": ref, "outputs": plain, "secretOutputNames": secret}
        digest = mock_digest(typ, name)
        rid = f"{_ID_PREFIX.get(typ, name)}-{digest}"
        state = dict(inputs)
        service = typ.split(":")[1].split("/")[0] if typ.startswith("aws:") else ""
        if typ == "aws:s3/bucket:Bucket":
            bucket = unwrap(inputs.get("bucket")) or f"{name}-{digest[:7]}"
            rid = bucket
            state.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}",
                         bucketRegionalDomainName=f"{bucket}.s3.{self.region}.amazonaws.com")
        elif typ == "aws:eks/cluster:Cluster":
            issuer = f"https://oidc.eks.{self.region}.amazonaws.com/id/{digest.upper()}"
            ca = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()
            vpc = dict(unwrap(inputs.get("vpcConfig")) or {})
            vpc["clusterSecurityGroupId"] = f"sg-{digest}"
            state.update(arn=f"arn:aws:eks:{self.region}:{ACCOUNT_ID}:cluster/{inputs.get('name', name)}",
                         endpoint=f"https://{digest.upper()}.gr7.{self.region}.eks.amazonaws.com",
                         certificateAuthority={"data": ca}, identities=[{"oidcs": [{"issuer": issuer}]}], vpcConfig=vpc,
                         status="ACTIVE")
        elif typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            url = str(unwrap(inputs.get("url", ""))).removeprefix("https://")
            state.update(arn=f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/{url}")
        elif typ == "aws:sqs/queue:Queue":
            qname = unwrap(inputs.get("name")) or f"{name}-{digest[:7]}"
            state.update(arn=f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{qname}",
                         url=f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/{qname}", name=qname)
        elif typ == "aws:autoscaling/group:Group":
            gname = unwrap(inputs.get("name")) or f"{name}-{digest[:7]}"
            rid = gname
            state.update(name=gname, arn=f"arn:aws:autoscaling:{self.region}:{ACCOUNT_ID}:autoScalingGroup:{digest}:"
                                         f"autoScalingGroupName/{gname}")
        elif typ == "aws:ecr/repository:Repository":
            rname = unwrap(inputs.get("name")) or f"{name}-{digest[:7]}"
            rid = rname
            state.update(name=rname, registryId=ACCOUNT_ID, arn=f"arn:aws:ecr:{self.region}:{ACCOUNT_ID}:repository/{rname}",
                         repositoryUrl=f"{ACCOUNT_ID}.dkr.ecr.{self.region}.amazonaws.com/{rname}")
        elif typ == "tls:index/privateKey:PrivateKey":
            state.update(privateKeyOpenssh=f"-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK{digest}PRIVATE\n-----END OPENSSH PRIVATE KEY-----\n",
                         privateKeyPem=f"-----BEGIN PRIVATE KEY-----\nMOCK{digest}PEM\n-----END PRIVATE KEY-----\n",
                         # the provider's public key line names the algorithm it was asked for
                         publicKeyOpenssh=(f"ssh-rsa AAAAB3NzaC1yc2E{digest}\n" if unwrap(inputs.get("algorithm")) == "RSA"
                                           else f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{digest}\n"))
        elif typ == "random:index/randomPassword:RandomPassword":
            # hex digits only: a plan never shows a value that could be mistaken for a real secret
            state.update(result=f"mock{digest}"[:int(unwrap(inputs.get("length")) or 16)],
                         bcryptHash=f"$2a$10$mock{digest}")
        elif typ == "kubernetes:core/v1:Secret" and unwrap(inputs.get("type")) == "kubernetes.io/service-account-token":
            # The API server's token controller fills a service-account-token Secret right after creation.
            sa = (unwrap(inputs.get("metadata")) or {}).get("annotations", {}).get("kubernetes.io/service-account.name", "")
            token = base64.b64encode(f"mock-token-{sa}-{digest}".encode()).decode()
            state["data"] = {"token": token, "ca.crt": base64.b64encode(b"MOCK CA").decode(),
                             "namespace": base64.b64encode(str((unwrap(inputs.get("metadata")) or {}).get("namespace", "")).encode()).decode()}
        elif service == "iam":
            kind = typ.rsplit(":", 1)[-1].lower()
            res_name = unwrap(inputs.get("name")) or f"{name}-{digest[:7]}"
            state.update(name=res_name, arn=f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{res_name}")
        elif typ == "aws:ec2/eip:Eip":
            # A documentation address (RFC 5737): the plan never shows a real one.
            state.update(publicIp=f"198.51.100.{int(digest[:4], 16) % 254 + 1}", allocationId=f"eipalloc-{digest}")
        elif typ == "kubernetes:core/v1:Service" and (unwrap(inputs.get("spec")) or {}).get("type") == "LoadBalancer":
            # The service controller names the load balancer and writes it into the status.
            internal = "internal-" if any("internal" in k for k in ((unwrap(inputs.get("metadata")) or {}).get(
                "annotations") or {})) else ""
            state["status"] = {"loadBalancer": {"ingress": [
                {"hostname": f"{internal}a{digest}-{digest[:16]}.elb.{self.region}.amazonaws.com"}]}}
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1, defaultVersion=1)  # a new template's first version
        elif typ == "aws:kms/key:Key":
            rid = f"{digest[:8]}-{digest[8:12]}-4{digest[12:15]}-8{digest[15:17]}0-{digest[:12]}"
            state.update(keyId=rid, arn=f"arn:aws:kms:{self.region}:{ACCOUNT_ID}:key/{rid}")
        elif typ.startswith("aws:"):
            resource = typ.rsplit(":", 1)[-1].lower()
            state.setdefault("arn", f"arn:aws:{service}:{self.region}:{ACCOUNT_ID}:{resource}/{rid}")
        if typ.startswith("aws:") and "tags" in inputs:
            state.setdefault("tagsAll", inputs["tags"])
        state.setdefault("id", rid)
        return rid, state
