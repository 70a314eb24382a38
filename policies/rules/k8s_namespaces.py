"""Namespaces enforce a Pod Security level: baseline or restricted, at a policy version that has every check.

How the Pod Security admission reads the labels (kubernetes/kubernetes staging/src/k8s.io/pod-security-admission):
- a namespace without `pod-security.kubernetes.io/enforce` gets the admission's default level, which is privileged
  unless the API server's AdmissionConfiguration says otherwise (admission/api/v1/defaults.go
  SetDefaults_PodSecurityDefaults; EKS does not let clusters change it), so a missing label enforces nothing;
- a level other than privileged, baseline or restricted, or a version other than `latest` or `v1.<minor>`, is an
  error (api/helpers.go ParseLevel, ParseVersion): the admission refuses to create such a namespace
  (admission/admission.go ValidateNamespace, "require valid labels on create");
- `enforce-version` pins the checks of that Kubernetes minor: a pin older than the newest baseline check
  (v1.34: probe and lifecycle hosts, policy/check_hostProbesAndhostLifecycle.go) leaves checks out.
A NamespacePatch only changes the labels it lists, so only those are judged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, Severity

from policies.rules.common import Report, config, get, label, resource_policy, schema

PREFIX = "pod-security.kubernetes.io/"
ENFORCE = PREFIX + "enforce"
MODES = ("enforce", "audit", "warn")
LEVELS = ("privileged", "baseline", "restricted")
VERSION_RE = re.compile(r"^v1\.(0|[1-9][0-9]*)$")  # api/helpers.go versionRegexp
NEWEST_CHECK_MINOR = 34
NAMESPACE_TYPES = ("kubernetes:core/v1:Namespace", "kubernetes:core/v1:NamespacePatch")

SCHEMA = schema(
    allowedNamespaces={
        "type": "array", "items": {"type": "string"}, "default": ["kube-system"],
        "description": "Namespaces that may enforce the privileged Pod Security level (or none): node agents.",
    },
)


def label_problems(labels: Mapping[str, str], patch: bool) -> list[str]:
    """What is wrong with a namespace's Pod Security labels (a patch: only the labels it sets)."""
    found = []
    for mode in MODES:
        level, version = labels.get(PREFIX + mode), labels.get(f"{PREFIX}{mode}-version")
        if level is not None and level not in LEVELS:
            found.append(f"{PREFIX}{mode}={level!r} is not a level ({', '.join(LEVELS)}); the API server refuses it")
        if version is not None and version != "latest" and not VERSION_RE.match(version):
            found.append(f"{PREFIX}{mode}-version={version!r} is not 'latest' or 'v1.<minor>'; the API server refuses it")
    level, version = labels.get(ENFORCE), labels.get(ENFORCE + "-version")
    if level == "privileged":
        found.append(f"{ENFORCE}=privileged admits pods with full access to their node")
    elif level is None and not patch:
        found.append(f"sets no {ENFORCE} label, so the cluster default applies: privileged")
    match = VERSION_RE.match(version or "")
    if match and int(match.group(1)) < NEWEST_CHECK_MINOR:
        found.append(f"{ENFORCE}-version={version} is older than v1.{NEWEST_CHECK_MINOR}, so the checks added since "
                     "are not enforced; use latest")
    return found


def validate(args: ResourceValidationArgs, report: Report) -> None:
    """Namespaces outside allowedNamespaces enforce baseline or restricted at a recent or `latest` version."""
    if args.resource_type not in NAMESPACE_TYPES:
        return
    name = str(get(args.props, "metadata", "name"))
    if name in config(args, SCHEMA)["allowedNamespaces"]:
        return
    raw = get(args.props, "metadata", "labels")
    labels = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    for problem in label_problems(labels, args.resource_type.endswith("Patch")):
        report(f"{label(args)} (namespace {name}): {problem}")


POLICY = resource_policy(
    "k8s-namespace-pod-security",
    "Namespaces outside allowedNamespaces enforce the baseline or restricted Pod Security level "
    "(pod-security.kubernetes.io/enforce; missing means the cluster default, privileged), with valid labels and no "
    "enforce-version older than the newest check.",
    validate, EnforcementLevel.MANDATORY, Severity.HIGH, SCHEMA,
    "Label the namespace pod-security.kubernetes.io/enforce: baseline or restricted (cloudviper:namespaces podSecurity), "
    "or list it in allowedNamespaces if it runs node agents.",
)
