"""Run a Pulumi program under Pulumi's own mock runtime and capture the resource graph.

Used by the offline plan and by the tests: no Pulumi CLI, no cloud. Every registered resource
is recorded with its type token, name, inputs (secrets stay wrapped), parent, dependencies,
provider and delete options; invokes (zones, region, identity, partition, SSM/AMI lookups)
are answered with realistic values for the stack's region.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
SECRET_SIG = rpc._special_secret_sig  # how the engine marks a secret value
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc", "aws:ec2/subnet:Subnet": "subnet", "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat", "aws:ec2/eip:Eip": "eipalloc", "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce", "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg", "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/flowLog:FlowLog": "fl",
}


def is_secret_value(value: Any) -> bool:
    """True for a value the engine would treat as secret."""
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == SECRET_SIG


def unwrap(value: Any) -> Any:
    """The value with every secret marker removed (for assertions on content)."""
    if is_secret_value(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def without_secrets(value: Any) -> Any:
    """The value with every secret part removed: what would be stored in plain text."""
    if is_secret_value(value):
        return None
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


def secret_paths(value: Any, path: str = "") -> list[str]:
    """Paths (a.b[0]) of the secret values inside a captured property bag."""
    if is_secret_value(value):
        return [path or "."]
    found: list[str] = []
    if isinstance(value, dict):
        for k, v in value.items():
            found += secret_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += secret_paths(v, f"{path}[{i}]")
    return found


@dataclass
class CapturedResource:
    """One resource as the engine would have received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: Optional[str]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    provider: Optional[str]
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def props(self) -> dict[str, Any]:
        """Inputs with secret markers removed."""
        return unwrap(self.inputs)

    @property
    def provider_urn(self) -> Optional[str]:
        """URN of the provider instance this resource uses (None: the default provider)."""
        return self.provider.rsplit("::", 1)[0] if self.provider else None


@dataclass
class StackOutput:
    """A resolved stack output and whether the engine would store it as a secret."""

    value: Any
    secret: bool


@dataclass
class Capture:
    """Everything one program run registered."""

    project: str
    stack: str
    resources: list[CapturedResource]
    outputs: dict[str, StackOutput]

    def of_type(self, type_token: str) -> list[CapturedResource]:
        """All resources with this type token."""
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: Optional[str] = None) -> CapturedResource:
        """The single resource of this type (and name); fails loudly otherwise."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_token} {name or ''}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> CapturedResource:
        """The resource with this URN."""
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def ancestors(self, res: CapturedResource) -> list[CapturedResource]:
        """Parents of a resource, nearest first (the root stack is not recorded)."""
        chain, urns = [], {r.urn for r in self.resources}
        parent = res.parent
        while parent and parent in urns:
            p = self.by_urn(parent)
            chain.append(p)
            parent = p.parent
        return chain

    def component_of(self, res: CapturedResource) -> Optional[CapturedResource]:
        """The outermost component resource that contains this resource."""
        comps = [a for a in self.ancestors(res) if not a.custom]
        return comps[-1] if comps else None

    def depends_on(self, res: CapturedResource, other: CapturedResource) -> bool:
        """True if `res` (or one of its parents) waits for `other` (or its children)."""
        targets = {other.urn} | {r.urn for r in self.resources if other in self.ancestors(r)}
        for r in [res, *self.ancestors(res)]:
            deps = set(r.dependencies) | {u for us in r.property_dependencies.values() for u in us}
            if deps & targets:
                return True
        return False


class CloudMocks(pulumi_mocks.Mocks):
    """Answers provider calls and resource registrations as AWS would, for one region."""

    def __init__(self, region: str, stack_references: Optional[dict[str, dict[str, Any]]] = None) -> None:
        self.region = region
        self.stack_references = stack_references or {}

    def call(self, args: pulumi_mocks.MockCallArgs) -> dict:  # type: ignore[override]
        token, a = args.token, args.args
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
        digest = hashlib.sha1(f"{typ}/{name}".encode()).hexdigest()[:17]
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
        elif typ == "tls:index/privateKey:PrivateKey":
            state.update(privateKeyOpenssh=f"-----BEGIN OPENSSH PRIVATE KEY-----\nMOCK{digest}PRIVATE\n-----END OPENSSH PRIVATE KEY-----\n",
                         privateKeyPem=f"-----BEGIN PRIVATE KEY-----\nMOCK{digest}PEM\n-----END PRIVATE KEY-----\n",
                         publicKeyOpenssh=f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{digest} arkouda\n")
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


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, plus a record of what each registration asked for."""

    def __init__(self, mocks: CloudMocks) -> None:
        super().__init__(mocks)
        self.captured: list[CapturedResource] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        urn = self.make_urn(request.parent, request.type, request.name)
        state = self.resources[urn].state if urn in self.resources else {}
        self.captured.append(CapturedResource(
            urn=urn, type=request.type, name=request.name, custom=bool(request.custom),
            parent=request.parent or None, dependencies=list(request.dependencies),
            property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
            provider=request.provider or None, protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete), inputs=inputs, ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            id=self.resources[urn].id if urn in self.resources else "", outputs=state,
        ))
        return response

    def ReadResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().ReadResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        self.captured.append(CapturedResource(
            urn=urn, type=request.type, name=request.name, custom=True, parent=request.parent or None,
            dependencies=list(request.dependencies), property_dependencies={}, provider=request.provider or None,
            protect=False, retain_on_delete=False, inputs=rpc.deserialize_properties(request.properties),
            id=request.id, outputs=self.resources[urn].state if urn in self.resources else {},
        ))
        return response


def _resolve(value: Any) -> StackOutput:
    out = pulumi.Output.from_input(value)
    return StackOutput(value=_sync_await(out.future()), secret=bool(_sync_await(out.is_secret())))


def evaluate(
    program: Callable[[], Any],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    region: str = "us-east-1",
    stack_references: Optional[dict[str, dict[str, Any]]] = None,
) -> Capture:
    """Run `program` under the mock runtime with this config; return what it registered."""
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    settings.ROOT.set(None)
    mocks = CloudMocks(region, stack_references)
    monitor = RecordingMonitor(mocks)
    pulumi_mocks.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor)
    root = settings.get_root_resource()

    outputs: dict[str, StackOutput] = {}

    def run() -> None:
        program()

    _sync_await(run_pulumi_func(run))
    stack_outputs = getattr(root, "outputs", {}) or {}
    for key, value in stack_outputs.items():
        outputs[key] = _resolve(value)
    return Capture(project=project, stack=stack, resources=list(monitor.captured), outputs=outputs)
