"""Who may assume the CI roles, and which job holds which secret: pull-request code never gets a deploy credential.

GitHub's OIDC `sub` claim (https://docs.github.com/en/actions/reference/security/oidc, "Example subject claims";
github/docs content/actions/reference/security/oidc.md): a job that references an environment presents
`repo:ORG/REPO:environment:NAME`; a `pull_request` job without one presents `repo:ORG/REPO:pull_request`; any other
job `repo:ORG/REPO:ref:refs/heads/BRANCH` (never trusted here: whoever pushes a branch runs one). The AWS side:
IAM User Guide "Configuring a role for GitHub OIDC identity provider"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html#idp_oidc_Create_GitHub) and
aws-actions/configure-aws-credentials README (trust policy: StringEquals on `token.actions.githubusercontent.com:aud`
= sts.amazonaws.com, the action's default `audience` in action.yml, and on `:sub`).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from typing import Any, Optional

import pytest
import yaml

from infra import ROOT
from infra.config.stackfile import deploy_order

IAM = ROOT / ".github" / "iam"
DEPLOY_SECRETS = {"AWS_ROLE_ARN", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"}
ROLES = {"deploy": "AWS_ROLE_ARN", "preview": "AWS_PREVIEW_ROLE_ARN"}  # trust document -> the secret naming the role
OIDC = "token.actions.githubusercontent.com"
# The only job allowed to read deploy secrets without an environment: it fails when any is set (deploy.yml, cloud).
GUARD = ("deploy", "cloud", "repository-secrets")


def workflows() -> dict[str, dict[Any, Any]]:
    """Every workflow file, parsed (YAML reads the `on` key as True)."""
    return {p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / ".github" / "workflows").glob("*.yml")}


def secret_names(obj: Any) -> set[str]:
    """The secrets the `${{ }}` expressions of a workflow object read; `*` for one that reads them all
    (`toJSON(secrets)`)."""
    names: set[str] = set()
    for expr in re.findall(r"\$\{\{(.*?)\}\}", json.dumps(obj)):
        names |= set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", expr))
        names |= set(re.findall(r"secrets\[\s*\\?['\"]([A-Za-z_][A-Za-z0-9_]*)", expr))
        names |= {"*"} if re.search(r"\bsecrets\b(?!\s*[.\[])", expr) else set()
    return names


def triggers(wf: dict[Any, Any]) -> set[str]:
    """The events that start a workflow."""
    on = wf[True]
    return {on} if isinstance(on, str) else set(on)


def environment(job: dict[str, Any]) -> Optional[str]:
    """The environment a job references, if any."""
    env = job.get("environment")
    return env.get("name") if isinstance(env, dict) else env


def deploy_secret_violations(wfs: dict[str, dict[Any, Any]]) -> list[str]:
    """Where a deploy credential could reach code that no reviewer approved."""
    found = []
    for name, wf in sorted(wfs.items()):
        if triggers(wf) & {"pull_request_target", "workflow_run"}:  # run with the base repository's secrets
            found.append(f"{name}: triggered by {sorted(triggers(wf))}")
        for job_name, job in wf["jobs"].items():
            for i, step in enumerate(job.get("steps", [])):
                read = secret_names(step) & (DEPLOY_SECRETS | {"*"})
                if (name, job_name, step.get("id")) == GUARD or not read:
                    continue
                if "pull_request" in triggers(wf) or environment(job) is None:
                    found.append(f"{name}/{job_name} step {i}: reads {sorted(read)} without an environment")
            if secret_names({k: v for k, v in job.items() if k != "steps"}) & (DEPLOY_SECRETS | {"*"}):
                found.append(f"{name}/{job_name}: reads deploy secrets at job level")
    return found


def role_contexts(wfs: dict[str, dict[Any, Any]], role_secret: str, stacks: list[str]) -> set[str]:
    """The `sub` contexts (after `repo:OWNER/REPO:`) of every job that assumes the role named by this secret."""
    contexts = set()
    for wf in wfs.values():
        for job in wf["jobs"].values():
            uses = [s for s in job.get("steps", []) if str(s.get("uses", "")).startswith("aws-actions/configure-aws")]
            if not any(s.get("with", {}).get("role-to-assume") == f"${{{{ secrets.{role_secret} }}}}" for s in uses):
                continue
            env = environment(job)
            if env is not None:
                contexts |= {f"environment:{env.replace('${{ matrix.stack }}', s)}" for s in stacks}
            elif triggers(wf) == {"pull_request"}:
                contexts.add("pull_request")
            else:
                contexts.add("ref:refs/heads/*")
    return contexts


def trust(doc: dict[str, Any]) -> tuple[list[str], set[str], set[str]]:
    """(problems, repositories, sub contexts) of a GitHub OIDC trust policy: exact matches only, no wildcard."""
    problems: list[str] = []
    statements = doc.get("Statement", [])
    if doc.get("Version") != "2012-10-17" or len(statements) != 1:
        return [f"want one statement of version 2012-10-17, got {doc.get('Version')}, {len(statements)}"], set(), set()
    st = statements[0]
    if st.get("Effect") != "Allow" or st.get("Action") != "sts:AssumeRoleWithWebIdentity":
        problems.append(f"want Allow sts:AssumeRoleWithWebIdentity, got {st.get('Effect')} {st.get('Action')}")
    federated = str(st.get("Principal", {}).get("Federated", ""))
    if not re.fullmatch(rf"arn:aws:iam::[A-Z0-9_]+:oidc-provider/{re.escape(OIDC)}", federated):
        problems.append(f"Principal.Federated {federated!r} is not GitHub's OIDC provider")
    condition = st.get("Condition", {})
    if set(condition) != {"StringEquals"}:  # StringLike or ForAllValues would admit more than the jobs below
        problems.append(f"condition operators {sorted(condition)}: want StringEquals only")
    equals = condition.get("StringEquals", {})
    if equals.get(f"{OIDC}:aud") != "sts.amazonaws.com":
        problems.append(f"{OIDC}:aud is {equals.get(f'{OIDC}:aud')!r}, want sts.amazonaws.com")
    subs = equals.get(f"{OIDC}:sub", [])
    subs = [subs] if isinstance(subs, str) else list(subs)
    parsed = [re.fullmatch(r"repo:([^:*?/]+/[^:*?/]+):([^*?]+)", s) for s in subs]
    problems += [f"sub {s!r} is not repo:OWNER/REPO:<context> without wildcards" for s, m in zip(subs, parsed, strict=True) if not m]
    matched = [m for m in parsed if m]
    return problems, {m[1] for m in matched}, {m[2] for m in matched}


def load(name: str) -> dict[str, Any]:
    """One of the IAM documents the README points at."""
    return json.loads((IAM / f"{name}.json").read_text())


@pytest.mark.parametrize("role", sorted(ROLES))
def test_each_role_trusts_exactly_the_jobs_that_assume_it(role):
    problems, repos, contexts = trust(load(f"{role}-trust"))
    assert problems == [] and len(repos) == 1, problems
    # the stacks `infra stacks` prints, which are the deploy matrix: every deploy-<stack> environment and nothing
    # else (anyone who can push a workflow can create an environment of any other name, without protection rules)
    assert contexts == role_contexts(workflows(), ROLES[role], deploy_order(ROOT))
    expected = {f"environment:deploy-{s}" for s in deploy_order(ROOT)} if role == "deploy" else {"pull_request"}
    assert contexts == expected


def test_both_roles_name_the_same_repository():
    assert trust(load("deploy-trust"))[1] == trust(load("preview-trust"))[1]


def test_the_trust_checks_catch_a_broader_trust():
    doc = load("deploy-trust")
    like = copy.deepcopy(doc)
    like["Statement"][0]["Condition"] = {"StringEquals": {f"{OIDC}:aud": "sts.amazonaws.com"},
                                         "StringLike": {f"{OIDC}:sub": "repo:OWNER/REPO:environment:deploy-*"}}
    assert any("StringEquals only" in p for p in trust(like)[0])
    branch = copy.deepcopy(doc)
    branch["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:sub"].append("repo:OWNER/REPO:ref:refs/heads/main")
    assert trust(branch)[2] != role_contexts(workflows(), "AWS_ROLE_ARN", deploy_order(ROOT))
    no_aud = copy.deepcopy(doc)
    del no_aud["Statement"][0]["Condition"]["StringEquals"][f"{OIDC}:aud"]
    assert any(":aud" in p for p in trust(no_aud)[0])
    wfs = workflows()  # a preview job given an environment would present environment:..., not pull_request
    wfs["pull-request"]["jobs"]["preview"]["environment"] = "preview"
    assert role_contexts(wfs, "AWS_PREVIEW_ROLE_ARN", ["dev"]) == {"environment:preview"}


def test_no_deploy_secret_reaches_unreviewed_code():
    wfs = workflows()
    assert deploy_secret_violations(wfs) == []
    assert secret_names(wfs["pull-request"]) & DEPLOY_SECRETS == set()
    up = wfs["deploy"]["jobs"]["up"]
    assert {"AWS_ROLE_ARN", "PULUMI_CONFIG_PASSPHRASE"} <= secret_names(up) and environment(up) == "deploy-${{ matrix.stack }}"


@pytest.mark.parametrize("mutation", ["role-in-preview", "passphrase-in-preview", "all-secrets-in-pr",
                                      "up-without-environment", "pull_request_target"])
def test_the_secret_check_fails_on_a_leak(mutation):
    wfs = workflows()
    preview, up = wfs["pull-request"]["jobs"]["preview"], wfs["deploy"]["jobs"]["up"]
    if mutation == "role-in-preview":
        step = next(s for s in preview["steps"] if "configure-aws" in str(s.get("uses")))
        step["with"]["role-to-assume"] = "${{ secrets.AWS_ROLE_ARN }}"
        assert role_contexts(wfs, "AWS_ROLE_ARN", ["dev"]) == {"environment:deploy-dev", "pull_request"}
    elif mutation == "passphrase-in-preview":
        preview["steps"][-1]["env"]["PULUMI_CONFIG_PASSPHRASE"] = "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    elif mutation == "all-secrets-in-pr":
        preview["steps"].append({"run": "echo ${{ toJSON(secrets) }} > /tmp/x"})
    elif mutation == "up-without-environment":
        del up["environment"]
    else:
        wfs["deploy"][True] = {"pull_request_target": None}
    assert deploy_secret_violations(wfs), mutation


def test_the_preview_job_runs_pr_code_with_nothing_else():
    preview = workflows()["pull-request"]["jobs"]["preview"]
    assert environment(preview) is None and preview["runs-on"] == "ubuntu-latest"  # never the deploy runner
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]  # no fork
    assert secret_names(preview) == {"AWS_PREVIEW_ROLE_ARN", "PULUMI_PREVIEW_ACCESS_TOKEN", "GITHUB_TOKEN"}
    (pulumi,) = [s for s in preview["steps"] if str(s.get("uses", "")).startswith("pulumi/actions")]
    assert set(pulumi["env"]) == {"PULUMI_ACCESS_TOKEN"}  # Pulumi Cloud; no backend URL, no passphrase


def test_the_preview_stack_list_names_stacks():
    listed = json.loads((ROOT / ".github" / "preview-stacks.json").read_text())
    assert isinstance(listed, list) and set(listed) <= set(deploy_order(ROOT)), listed


def preview_iam_problems(doc: dict[str, Any], needed: dict[str, set[str]]) -> list[str]:
    """What the preview role's policy grants beyond, or lacks of, `needed` (action -> resource ARNs)."""
    granted: dict[str, list[str]] = {}
    for st in doc["Statement"]:
        if st.get("Effect") != "Allow" or "Condition" in st or "NotAction" in st or "NotResource" in st:
            return [f"statement {st.get('Sid')}: want a plain Allow"]
        for action in [st["Action"]] if isinstance(st["Action"], str) else st["Action"]:
            resources = [st["Resource"]] if isinstance(st["Resource"], str) else st["Resource"]
            granted.setdefault(action, []).extend(resources)
    problems = [f"{a}: granted but the program never calls it" for a in sorted(set(granted) - set(needed))]
    problems += [f"{a}: wildcard action" for a in granted if "*" in a or "?" in a]
    for action, arns in sorted(needed.items()):
        for arn in sorted(arns):  # IAM's `*` and `?` are fnmatch's (the patterns here hold no `[`)
            if not any(fnmatch.fnmatchcase(arn, p) for p in granted.get(action, [])):
                problems.append(f"{action} on {arn}: not granted")
    return problems


def public_parameter_arn(region: str, args: dict[str, Any]) -> str:
    """ARN of an AWS public SSM parameter: no account (docs.aws.amazon.com/systems-manager/latest/userguide/
    parameter-store-public-parameters-eks.html: "arn:aws:ssm:us-east-2::parameter/aws/service/eks/...")."""
    name = str(args["name"])
    assert name.startswith("/aws/service/"), f"the program reads a private parameter {name}: not for the preview"
    return f"arn:aws:ssm:{region}::parameter{name}"


# Each invoke the program makes -> the IAM action it needs and the resource it reads (None: no permission).
INVOKE_PERMISSIONS: dict[str, Any] = {
    # STS API reference, GetCallerIdentity: "No permissions are required to perform this operation."
    "aws:index/getCallerIdentity:getCallerIdentity": None,
    # EC2 Describe* calls take no resource-level permission: Resource "*"
    "aws:index/getAvailabilityZones:getAvailabilityZones": ("ec2:DescribeAvailabilityZones", lambda r, a: "*"),
    # EKS user guide, retrieve AMI ids: "must have the ssm:GetParameter IAM permission"
    "aws:ssm/getParameter:getParameter": ("ssm:GetParameter", public_parameter_arn),
}


def test_the_preview_role_may_do_exactly_what_the_program_asks(stack_capture):
    from infra.config.stackfile import list_stacks
    from tests.conftest import BASE_CONFIG, CLUSTER_CONFIG, run_config, stacks_project

    # every test stack, then zones looked up rather than named: each capture records the provider calls it made
    captures = [stack_capture(name) for name in list_stacks(stacks_project())]
    captures.append(run_config({**copy.deepcopy(BASE_CONFIG), **copy.deepcopy(CLUSTER_CONFIG),
                                "cloudviper:network": {"cidr": "10.0.0.0/16"}}))
    calls = [(token, cap.region, args) for cap in captures for token, args in cap.invokes]
    assert calls
    unknown = sorted({t for t, _, _ in calls} - set(INVOKE_PERMISSIONS))
    assert unknown == [], f"new invokes {unknown}: add their IAM action to .github/iam/preview-permissions.json and here"
    needed: dict[str, set[str]] = {}
    for token, region, args in calls:
        if INVOKE_PERMISSIONS[token]:
            action, resource = INVOKE_PERMISSIONS[token]
            needed.setdefault(action, set()).add(resource(region, args))
    assert {"ec2:DescribeAvailabilityZones", "ssm:GetParameter"} == set(needed)
    assert preview_iam_problems(load("preview-permissions"), needed) == []
    broad = load("preview-permissions")
    broad["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    narrow = load("preview-permissions")
    narrow["Statement"][1]["Resource"] = "arn:aws:ssm:*::parameter/aws/service/eks/optimized-ami/1.30/*"
    assert preview_iam_problems(broad, needed) and preview_iam_problems(narrow, needed)


def test_the_preview_policy_passes_the_linter():
    import parliament

    from tests.test_iam_lint import LEVELS

    findings = parliament.analyze_policy_string((IAM / "preview-permissions.json").read_text()).findings
    for f in findings:
        severity = parliament.config.get(f.issue, {}).get("severity") or "MEDIUM"
        # Reviewed: parliament's ARN format for ssm parameters demands an account; AWS public parameters have
        # none (arn:aws:ssm:<region>::parameter/aws/service/..., as in aws/karpenter-provider-aws
        # website/content/en/docs/getting-started/getting-started-with-karpenter/cloudformation.yaml).
        if f.issue == "RESOURCE_MISMATCH" and "ssm:GetParameter" in json.dumps(f.detail):
            continue
        assert LEVELS[severity] <= LEVELS["LOW"], (f.issue, f.detail)


def test_the_iam_documents_hold_only_the_documented_placeholders():
    paths = sorted(IAM.glob("*.json"))
    assert [p.name for p in paths] == ["deploy-trust.json", "preview-permissions.json", "preview-trust.json"]
    for path in paths:
        json.loads(path.read_text())
        placeholders = set(re.findall(r"\b[A-Z][A-Z_]{3,}\b", path.read_text()))
        assert placeholders <= {"ACCOUNT_ID", "OWNER", "REPO"}, (path.name, placeholders)
