"""preflight and data upload against moto in server mode on 127.0.0.1 (real HTTP, real boto3); prices: test_ops_prices."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from infra import ROOT
from tests.aws_emulator import EC2_QUOTAS, CheckIpStub, LoopbackServer, start_moto
from tests.cli_runner import run_cli
from tests.conftest import copy_test_project, import_without, stacks_project

MY_ADDRESS = "198.18.7.7"  # what the checkip stub says this machine is (RFC 2544, not a documentation range)


@pytest.fixture(scope="module")
def aws():
    server, url = start_moto()
    checkip = CheckIpStub(MY_ADDRESS).__enter__()
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "CLOUDVIPER_CHECKIP_URL": checkip.url}
    env.pop("AWS_PROFILE", None)
    saved = {k: os.environ.get(k) for k in env if k.startswith("AWS_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    EC2_QUOTAS.clear()
    EC2_QUOTAS.update({"L-1216C47A": 256, "L-34B43A08": 256})
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    checkip.__exit__()
    server.stop()


def cli(env, *args, cwd=ROOT, fresh=False):
    """`python -m infra ARGS` with this environment, in-process (tests/cli_runner.py) or with `fresh` in a new
    interpreter; a command that reads a stack reads the test stacks unless ARGS name a --project-dir."""
    stack_command = args[:1] in (("preflight",), ("data",)) and "--stack" in args
    project = ["--project-dir", str(stacks_project())] if stack_command and "--project-dir" not in args else []
    if not fresh:
        return run_cli(*args, *project, cwd=cwd, env=env)
    return subprocess.run([sys.executable, "-m", "infra", *args, *project], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def statuses(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        for name in ("identity", "region", "instance types", "spot prices", "vCPU quotas", "EKS version", "API access",
                     "access entries", "buckets"):
            if line.startswith(name + " ") and len(line.split()) > len(name.split()):
                found[name] = line[len(name):].split()[0]
    return found


def from_here(c):
    """The dev stack opened to this machine's address (the stub's) instead of a documentation range."""
    c["cloudviper:cluster"]["publicAccessCidrs"] = [f"{MY_ADDRESS}/32"]


def test_preflight_passes_against_the_emulator(aws, tmp_path):
    # The end-to-end case, as a user runs it; the other cases run in-process.
    result = cli(aws, "preflight", "--stack", "mine", "--project-dir", str(project_with(tmp_path, "mine", from_here)),
                 fresh=True)
    assert result.returncode == 0, result.stdout + result.stderr
    got = statuses(result.stdout)
    assert got["identity"] == "pass" and "account 123456789012" in result.stdout
    assert got["region"] == got["instance types"] == got["vCPU quotas"] == got["spot prices"] == "pass"
    assert got["API access"] == got["access entries"] == got["buckets"] == "pass"
    assert f"this machine ({MY_ADDRESS}) is inside publicAccessCidrs" in result.stdout
    assert got["EKS version"] == "warn"  # the emulator has no DescribeClusterVersions
    assert "standard on-demand: 4 vCPU needed, quota 256" in result.stdout
    assert "standard spot: 8 vCPU needed, quota 256" in result.stdout


def test_documentation_ranges_fail_for_a_real_deploy(aws):
    result = cli(aws, "preflight", "--stack", "dev")  # the example stack ships 203.0.113.0/24 as a placeholder
    assert result.returncode == 1 and statuses(result.stdout)["API access"] == "fail"
    assert "documentation ranges (203.0.113.0/24)" in result.stdout


def test_an_address_outside_public_access_cidrs_fails_and_offline_only_warns(aws, tmp_path):
    def edit(c):
        c["cloudviper:cluster"]["publicAccessCidrs"] = ["198.18.100.0/24"]
    project = str(project_with(tmp_path, "away", edit))
    result = cli(aws, "preflight", "--stack", "away", "--project-dir", project)
    assert result.returncode == 1 and statuses(result.stdout)["API access"] == "fail"
    assert f"this machine's address {MY_ADDRESS} is outside publicAccessCidrs" in result.stdout
    assert f"add {MY_ADDRESS}/32 to cloudviper:cluster.publicAccessCidrs" in result.stdout
    offline = cli(aws, "preflight", "--stack", "away", "--project-dir", project, "--offline")
    assert statuses(offline.stdout)["API access"] == "warn" and "offline" in offline.stdout


def test_a_kept_bucket_is_refused_unless_imported(aws, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="cloudviper-kept-data-123456789012")  # what an earlier `pulumi destroy` left
    try:
        project = str(project_with(tmp_path, "kept", from_here))
        unknown = cli(aws, "preflight", "--stack", "kept", "--project-dir", project)
        assert unknown.returncode == 0 and statuses(unknown.stdout)["buckets"] == "warn"  # no state: cannot tell
        state = tmp_path / "state.json"  # `pulumi stack export` of a stack that does not manage the bucket
        state.write_text(json.dumps({"version": 3, "deployment": {"resources": []}}))
        result = cli(aws, "preflight", "--stack", "kept", "--project-dir", project, "--pulumi-state", str(state))
        assert result.returncode == 1 and statuses(result.stdout)["buckets"] == "fail"
        assert "bucket cloudviper-kept-data-123456789012 already exists in this account but not in this stack" in result.stdout
        state.write_text(json.dumps({"version": 3, "deployment": {"resources": [
            {"urn": "urn:pulumi:kept::cloudviper::aws:s3/bucket:Bucket::data-data", "type": "aws:s3/bucket:Bucket",
             "id": "cloudviper-kept-data-123456789012"}]}}))
        managed = cli(aws, "preflight", "--stack", "kept", "--project-dir", project, "--pulumi-state", str(state))
        assert statuses(managed.stdout)["buckets"] == "pass" and "managed by this stack" in managed.stdout

        def adopt(c):
            from_here(c)
            c["cloudviper:buckets"][0].update(importExisting=True, bucketName="cloudviper-kept-data-123456789012")
        (tmp_path / "adopt").mkdir()
        adopted = cli(aws, "preflight", "--stack", "kept", "--project-dir",
                      str(project_with(tmp_path / "adopt", "kept", adopt)))
        assert statuses(adopted.stdout)["buckets"] == "pass", adopted.stdout
    finally:
        s3.delete_bucket(Bucket="cloudviper-kept-data-123456789012")


def test_the_deployer_listed_as_admin_fails(aws, tmp_path):
    def edit(c):
        from_here(c)
        c["cloudviper:cluster"]["admins"] = ["arn:aws:iam::123456789012:user/moto"]  # moto's caller
    result = cli(aws, "preflight", "--stack", "twice", "--project-dir", str(project_with(tmp_path, "twice", edit)))
    assert result.returncode == 1 and statuses(result.stdout)["access entries"] == "fail"
    assert "EKS would refuse the second access entry" in result.stdout


def project_with(tmp_path: Path, name: str, edit) -> Path:
    """The test dev stack as stack `name` after `edit` (with dev's policy config) in a project folder."""
    copy_test_project(tmp_path, ("dev",))
    doc = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())
    edit(doc["config"])
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(doc))
    shutil.copy(tmp_path / "policies" / "config" / "dev.json", tmp_path / "policies" / "config" / f"{name}.json")
    return tmp_path


def test_type_not_offered_in_a_zone_fails(aws, tmp_path):
    def edit(c):
        c["cloudviper:network"]["azs"] = ["us-east-1a", "us-east-1e"]  # the emulator offers m5.large in a-d and f, not e
        c["cloudviper:nodeGroups"][1]["instanceTypes"] = ["m5.large"]
        c["cloudviper:nodeGroups"][1]["zones"] = ["us-east-1e"]
    result = cli(aws, "preflight", "--stack", "nozone", "--project-dir", str(project_with(tmp_path, "nozone", edit)))
    assert result.returncode == 1
    assert statuses(result.stdout)["instance types"] == "fail"
    assert "none of m5.large is offered in us-east-1e" in result.stdout and "fix:" in result.stdout


def test_spot_quota_too_small_fails(aws):
    EC2_QUOTAS["L-34B43A08"] = 32
    try:
        result = cli(aws, "preflight", "--stack", "reference")
    finally:
        EC2_QUOTAS["L-34B43A08"] = 256
    assert result.returncode == 1
    assert statuses(result.stdout)["vCPU quotas"] == "fail"
    assert "standard spot: 512 vCPU needed, quota 32 (L-34B43A08)" in result.stdout
    assert "request an increase in the Service Quotas console" in result.stdout


def test_wrong_region_fails(aws, tmp_path):
    def edit(c):
        c["aws:region"] = "us-west-2"
        c["cloudviper:network"]["azs"] = ["us-west-2a", "us-west-2b"]
    result = cli(aws, "preflight", "--stack", "west", "--project-dir", str(project_with(tmp_path, "west", edit)))
    assert result.returncode == 1
    assert statuses(result.stdout)["region"] == "fail"
    assert "us-west-2 is not in allowedRegions (us-east-1)" in result.stdout


def test_region_not_enabled_for_the_account_fails(aws, tmp_path):
    def edit(c):
        c["aws:region"] = "ap-east-1"
        c["cloudviper:network"]["azs"] = ["ap-east-1a", "ap-east-1b"]
    project = project_with(tmp_path, "hk", edit)
    (project / "policies" / "config" / "hk.json").write_text(json.dumps({"allowed-regions": {"allowedRegions": ["ap-east-1"]}}))
    result = cli(aws, "preflight", "--stack", "hk", "--project-dir", str(project))
    assert statuses(result.stdout)["region"] == "fail" and "ap-east-1 is not enabled for this account" in result.stdout


def no_credentials_env(tmp_path: Path, config: str = "", **extra: str) -> dict[str, str]:
    """No AWS_* variable, empty credentials file, `config` as the config file, no instance metadata: botocore's
    chain (botocore/credentials.py, create_credential_resolver) then finds nothing."""
    (tmp_path / "aws-credentials").write_text("")
    (tmp_path / "aws-config").write_text(config)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "aws-credentials"), AWS_CONFIG_FILE=str(tmp_path / "aws-config"),
               AWS_EC2_METADATA_DISABLED="true", **extra)
    return env


def only_identity_failed(result: subprocess.CompletedProcess[str]) -> str:
    """The one failure line of a preflight that stopped after the identity check (and its fix line); exit 2, as for a
    config error: the credentials are the user's setup."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and result.stderr == ""
    assert set(statuses(result.stdout)) == {"identity"}  # no other check ran
    failed = [line for line in result.stdout.splitlines() if "  fail  " in line]
    assert len(failed) == 1 and failed[0].startswith("identity "), result.stdout
    assert "stopped after the identity check" in result.stdout
    return result.stdout


def test_preflight_without_credentials_stops_after_the_identity_check(tmp_path):
    # botocore.exceptions.NoCredentialsError ("Unable to locate credentials", botocore/exceptions.py): before this,
    # each of the four checks that call AWS printed the same failure.
    out = only_identity_failed(cli(no_credentials_env(tmp_path), "preflight", "--stack", "dev"))
    assert "no AWS credentials found" in out
    assert ("fix: run `aws sso login --profile NAME` and set AWS_PROFILE=NAME, or export "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") in out


def test_preflight_names_a_profile_that_does_not_exist(tmp_path):
    # boto3.session.Session() raises botocore.exceptions.ProfileNotFound (botocore/session.py, get_scoped_config)
    # for an AWS_PROFILE missing from the config files; botocore still lists the ones there (available_profiles).
    config = "[profile alpha]\nregion = us-east-1\n[profile beta]\nregion = us-east-1\n"
    out = only_identity_failed(cli(no_credentials_env(tmp_path, config, AWS_PROFILE="nope"), "preflight", "--stack", "dev"))
    assert "AWS profile 'nope' does not exist (configured profiles: alpha, beta)" in out
    assert "aws configure sso --profile nope" in out


def test_preflight_asks_for_sso_login_when_the_sso_token_is_missing(tmp_path):
    # An SSO profile without a cached token: botocore raises SSOTokenLoadError ("Token for s does not exist",
    # botocore/utils.py, SSOTokenLoader), a subclass of SSOError like UnauthorizedSSOTokenError (expired), in
    # botocore/exceptions.py. HOME points at an empty folder, so ~/.aws/sso/cache has no token.
    config = ("[profile lab]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = Admin\n"
              "region = us-east-1\n[sso-session s]\nsso_start_url = https://example.awsapps.com/start\n"
              "sso_region = us-east-1\nsso_registration_scopes = sso:account:access\n")
    env = no_credentials_env(tmp_path, config, AWS_PROFILE="lab", HOME=str(tmp_path))
    out = only_identity_failed(cli(env, "preflight", "--stack", "dev"))
    assert "the SSO login of profile lab has expired or was never made" in out
    assert "fix: run `aws sso login --profile lab`" in out


def test_preflight_asks_for_a_new_login_when_the_session_token_expired(tmp_path):
    # STS answers an expired session token with the error code ExpiredToken (AWS's common errors). botocore has
    # no model entry for that code (only STS's ExpiredTokenException, botocore/data/sts/2011-06-15/service-2.json.gz,
    # also handled); STS speaks the query protocol, so the answer is an XML ErrorResponse (botocore/parsers.py).
    body = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            b"<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>"
            b"</Error><RequestId>r-1</RequestId></ErrorResponse>")
    with LoopbackServer(lambda *_: (403, "text/xml", body)) as sts:
        env = no_credentials_env(tmp_path, AWS_ACCESS_KEY_ID="ASIAEXAMPLE", AWS_SECRET_ACCESS_KEY="s",
                                 AWS_SESSION_TOKEN="t", AWS_ENDPOINT_URL_STS=sts.url, AWS_MAX_ATTEMPTS="1")
        out = only_identity_failed(cli(env, "preflight", "--stack", "dev"))
    assert "the AWS session token has expired (ExpiredToken)" in out
    assert "fix: run `aws sso login --profile NAME` and set AWS_PROFILE=NAME (or get new temporary credentials)" in out


def test_eks_version_verdicts():
    from infra.ops.preflight import eks_version_verdict

    assert eks_version_verdict("1.33", [{"clusterVersion": "1.33", "versionStatus": "STANDARD_SUPPORT"}]).status == "pass"
    assert eks_version_verdict("1.31", [{"clusterVersion": "1.31", "versionStatus": "EXTENDED_SUPPORT"}]).status == "warn"
    assert eks_version_verdict("1.35", []).status == "fail"


def make_files(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "sub/b.csv": b"x,y\n1,2\n", "sub/deep/c.bin": os.urandom(1024),
             "big.dat": os.urandom(9 * 1024 * 1024)}  # over the 8 MiB multipart threshold
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_upload_resumes_and_resends_only_what_changed(aws, tmp_path):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lab-data")
    data = tmp_path / "dataset"
    files = make_files(data)
    # An interrupted first run: two files made it.
    for name in ("a.txt", "big.dat"):
        first = cli(aws, "data", "upload", str(data / name), "--bucket", "lab-data", "--prefix", "run1/" + str(Path(name).parent).strip("."))
        assert first.returncode == 0, first.stderr
    before = {o["Key"]: o["LastModified"] for o in s3.list_objects_v2(Bucket="lab-data")["Contents"]}
    assert set(before) == {"run1/a.txt", "run1/big.dat"}
    resumed = cli(aws, "data", "upload", str(data), "--bucket", "lab-data", "--prefix", "run1")
    assert resumed.returncode == 0, resumed.stderr
    assert "uploaded 2 files" in resumed.stdout and "skipped 2 already present" in resumed.stdout
    after = {o["Key"]: o for o in s3.list_objects_v2(Bucket="lab-data")["Contents"]}
    assert {k: after[k]["LastModified"] for k in before} == before  # finished objects were not sent again
    for name, content in files.items():
        assert s3.get_object(Bucket="lab-data", Key=f"run1/{name}")["Body"].read() == content
    assert "%" in resumed.stderr  # the progress bar

    (data / "a.txt").write_bytes(b"ALPHA\n")  # same size, new content
    changed = cli(aws, "data", "upload", str(data), "--bucket", "lab-data", "--prefix", "run1")
    assert "uploaded 1 files" in changed.stdout and "skipped 3" in changed.stdout
    assert s3.get_object(Bucket="lab-data", Key="run1/a.txt")["Body"].read() == b"ALPHA\n"
    head = s3.head_object(Bucket="lab-data", Key="run1/big.dat")
    assert head["ContentLength"] == 9 * 1024 * 1024 and head["Metadata"]["sha256"]


def test_upload_to_a_missing_bucket_is_a_clear_error(aws, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    result = cli(aws, "data", "upload", str(tmp_path), "--bucket", "no-such-bucket")
    assert result.returncode == 2
    assert "bucket 'no-such-bucket' does not exist" in result.stderr and "Traceback" not in result.stderr


def test_boto3_tools_need_only_the_runtime_requirements():
    # Users who install requirements.txt only (the Pulumi CLI does) must still be able to run them.
    result = import_without(["infra.ops.preflight", "infra.ops.prices_refresh", "infra.ops.upload", "infra.ops.commands",
                             "infra.ops.buckets", "infra.ops.aws_errors", "infra.ops.transfer_progress", "infra.cli",
                             "infra.ops.aws_clients", "infra.ops.multipart", "infra.ops.open_uploads",
                             "infra.ops.upload_sources", "infra.ops.workers"],
                            ("pulumi_policy", "pytest", "moto", "hypothesis"))
    assert result.returncode == 0, result.stderr


def test_preflight_with_the_state_fails_on_a_kept_bucket_the_config_dropped(aws, tmp_path):
    # The deploy workflow runs `infra preflight --pulumi-state state.json` on `pulumi stack export`: a kept bucket of
    # the state that the config no longer declares (renamed without renamedFrom) fails the buckets check.
    from tests.test_kept_data import export, state_resource

    kept = "cloudviper-mine-old-123456789012"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=kept)
    state = tmp_path / "state.json"
    state.write_text(json.dumps(export(state_resource("old", "aws:s3/bucket:Bucket", kept, True))))
    project = str(project_with(tmp_path, "mine", from_here))
    result = cli(aws, "preflight", "--stack", "mine", "--project-dir", project, "--pulumi-state", str(state))
    assert result.returncode == 1 and statuses(result.stdout)["buckets"] == "fail", result.stdout + result.stderr
    assert f"kept bucket old (S3 {kept})" in result.stdout and "renamedFrom: old" in result.stdout
