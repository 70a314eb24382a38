"""preflight, prices refresh and data upload against moto in server mode on 127.0.0.1 (real HTTP, real boto3)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from infra import ROOT
from infra.pricing.tables import BUNDLED_ONLY, load_prices
from tests.aws_emulator import EC2_QUOTAS, CheckIpStub, LoopbackServer, PricingStub, start_moto
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


def cli(env, *args, cwd=ROOT):
    """`python -m infra ARGS`; a command that reads a stack reads the test stacks unless ARGS name a --project-dir."""
    stack_command = args[:1] in (("preflight",), ("data",)) and "--stack" in args
    project = ["--project-dir", str(stacks_project())] if stack_command and "--project-dir" not in args else []
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
    result = cli(aws, "preflight", "--stack", "mine", "--project-dir", str(project_with(tmp_path, "mine", from_here)))
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
    """The one failure line of a preflight that stopped after the identity check (and its fix line)."""
    assert result.returncode == 1, result.stdout + result.stderr
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


def test_prices_refresh_writes_the_table_the_cost_model_reads(aws, tmp_path, monkeypatch):
    monkeypatch.delenv(BUNDLED_ONLY)  # the tests pin the bundled tables; here the refreshed one must win
    with PricingStub({"m5.large": 0.097, "m5dn.4xlarge": 1.1}, "us-east-1") as pricing:
        env = {**aws, "AWS_ENDPOINT_URL_PRICING": pricing.url}
        result = cli(env, "prices", "refresh", "--region", "us-east-1", "--output-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
        (request,) = pricing.requests
    assert request["target"] == "AWSPriceListService.GetProducts"
    assert {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"} in request["body"]["Filters"]
    with (tmp_path / "ec2-us-east-1.refreshed.csv").open() as fh:
        rows = {r["instance_type"]: r for r in csv.DictReader(fh)}
    assert rows["m5.large"] == {"instance_type": "m5.large", "vcpu": "2", "memory_gib": "8", "gpus": "0",
                                "bare_metal": "false", "on_demand_usd_per_hour": "0.097"}
    assert (tmp_path / "spot-us-east-1.csv").read_text().startswith("instance_type,spot_usd_per_hour\n")
    table = load_prices("us-east-1", tmp_path)
    assert table.on_demand("m5.large") == 0.097 and "refreshed table ec2-us-east-1.refreshed.csv (20" in table.source
    assert table.spot_price("m5.large") == pytest.approx(0.00001)  # the emulator's spot history
    monkeypatch.setenv(BUNDLED_ONLY, "1")  # how the tests keep their figures: the refreshed files are ignored
    bundled = load_prices.__wrapped__("us-east-1", tmp_path)
    assert "refreshed" not in bundled.source and bundled.spot_price("m5.large") != pytest.approx(0.00001)


HTML_503 = (b"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>"
            + b"<p>The server is busy.</p>" * 400 + b"</body></html>")


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_error_line(result: subprocess.CompletedProcess[str], start: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr
    assert "<" not in lines[0] and "Traceback" not in result.stderr and len(lines[0]) < 300
    return lines[0]


@pytest.mark.parametrize("status, page, pricing_ok, start", [
    # The JSON protocol (pricing) keeps a non-JSON error body as the message (botocore/parsers.py,
    # BaseJSONParser._parse_body_as_json): here a whole HTML page, code "503".
    (503, HTML_503, False, "cloudviper prices refresh: pricing GetProducts: 503: an HTML page (503 Service Unavailable)"),
    # A 5xx body starting with <html> is a "generic error response" (parsers.py, _is_generic_error_response).
    (503, b"<html><body><b>Http/1.1 Service Unavailable</b></body></html>", False,
     "cloudviper prices refresh: pricing GetProducts: 503: Service Unavailable"),
    # The XML protocol (ec2) finds no <Error> in an HTML body: a ClientError without code or message (which
    # botocore/exceptions.py, ClientError, prints as "Unknown"); the HTTP status is shown instead.
    (503, HTML_503, True, "cloudviper prices refresh: ec2 DescribeInstanceTypes: HTTP 503: the answer is not an AWS error"),
    # A 200 page that is not JSON parses as an empty answer (parsers.py, _parse_body_as_json keeps it as `message`):
    # no PriceList, which a real GetProducts answer always has.
    (200, HTML_503, False, "cloudviper prices refresh: pricing GetProducts: UnexpectedResponse: the answer has no PriceList"),
], ids=["json-api-html-page", "generic-html-error", "xml-api-html-page", "html-page-with-200"])
def test_prices_refresh_reports_an_html_answer_in_one_line(aws, tmp_path, status, page, pricing_ok, start):
    with LoopbackServer(lambda *_: (status, "text/html", page)) as proxy, \
            PricingStub({"m5.large": 0.097}, "us-east-1") as pricing:
        env = {**aws, "AWS_ENDPOINT_URL": proxy.url, "AWS_MAX_ATTEMPTS": "1"}
        if pricing_ok:
            env["AWS_ENDPOINT_URL_PRICING"] = pricing.url
        result = cli(env, "prices", "refresh", "--output-dir", str(tmp_path / "out"))
    one_error_line(result, start)
    assert not (tmp_path / "out").exists()  # nothing written: no half-refreshed table


def test_prices_refresh_reports_missing_credentials_and_no_endpoint_in_one_line(aws, tmp_path):
    # NoCredentialsError and EndpointConnectionError are BotoCoreErrors (botocore/exceptions.py).
    one_error_line(cli(no_credentials_env(tmp_path), "prices", "refresh", "--output-dir", str(tmp_path / "out")),
                   "cloudviper prices refresh: pricing GetProducts: NoCredentialsError: Unable to locate credentials")
    env = {**aws, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}", "AWS_MAX_ATTEMPTS": "1"}
    one_error_line(cli(env, "prices", "refresh", "--output-dir", str(tmp_path / "out")),
                   "cloudviper prices refresh: pricing GetProducts: EndpointConnectionError: Could not connect")
    assert not (tmp_path / "out").exists()


def test_prices_refresh_writes_by_default_where_the_cost_model_reads(aws, tmp_path, monkeypatch):
    monkeypatch.delenv(BUNDLED_ONLY)
    # README: `infra/pricing/ec2-<region>.refreshed.csv`, `spot-<region>.csv`, `ec2-<region>.refreshed.json`,
    # next to the bundled table; load_prices looks there first (infra/pricing/tables.py).
    from infra.ops import prices_refresh
    from infra.pricing.tables import PRICING_DIR

    readme = " ".join((ROOT / "README.md").read_text().split())
    assert ("writing `infra/pricing/ec2-<region>.refreshed.csv` (the bundled table's format), `spot-<region>.csv` and "
            "`ec2-<region>.refreshed.json`") in readme
    assert prices_refresh.output_names("<region>") == ("ec2-<region>.refreshed.csv", "spot-<region>.csv",
                                                      "ec2-<region>.refreshed.json")
    assert PRICING_DIR == ROOT / "infra" / "pricing"
    monkeypatch.setattr(prices_refresh, "PRICING_DIR", tmp_path)  # stands in for infra/pricing
    with PricingStub({"m5.large": 0.097}, "us-east-1") as pricing:
        monkeypatch.setenv("AWS_ENDPOINT_URL_PRICING", pricing.url)
        meta = prices_refresh.refresh("us-east-1")
    assert meta["files"] == [str(tmp_path / n) for n in prices_refresh.output_names("us-east-1")]
    assert load_prices.__wrapped__("us-east-1", tmp_path).source.startswith("refreshed table ec2-us-east-1.refreshed.csv")


def test_prices_refresh_never_replaces_a_bundled_table(tmp_path):
    from infra.ops.prices_refresh import BUNDLED_TABLES, RefreshError, check_destination, output_names
    from infra.pricing.tables import PRICING_DIR

    tracked = subprocess.run(["git", "ls-files", "infra/pricing"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert BUNDLED_TABLES == {Path(p).name for p in tracked if p.endswith(".csv")}
    assert not set(output_names("us-east-1")) & BUNDLED_TABLES
    check_destination("us-east-1", PRICING_DIR)  # the default: only the refresh's own files
    with pytest.raises(RefreshError, match=r"spot-us-east-1\.csv is one of them: refusing to overwrite it"):
        check_destination("us-east-1", PRICING_DIR / ".." / "pricing", bundled={"spot-us-east-1.csv"})
    check_destination("us-east-1", tmp_path, bundled={"spot-us-east-1.csv"})  # elsewhere is fine
    result = cli(os.environ.copy(), "prices", "refresh", "--region", "../../etc", "--output-dir", str(PRICING_DIR))
    assert result.returncode == 2 and "is not an AWS region name" in result.stderr


def test_the_pricing_api_is_asked_in_a_region_that_serves_it(monkeypatch):
    # botocore/data/endpoints.json: api.pricing has endpoints in us-east-1, eu-central-1 and ap-south-1 of the aws
    # partition; the rule set (botocore/data/pricing/2017-10-15/endpoint-rule-set-1.json.gz) builds
    # https://api.pricing.{Region}.amazonaws.com.
    import botocore

    from infra.ops.prices_refresh import PRICING_REGION

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_PRICING"):
        monkeypatch.delenv(name, raising=False)
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    partition = next(p for p in data["partitions"] if p["partition"] == "aws")
    assert PRICING_REGION in partition["services"]["api.pricing"]["endpoints"]
    client = boto3.session.Session().client("pricing", region_name=PRICING_REGION, aws_access_key_id="x",
                                            aws_secret_access_key="y")
    assert client.meta.endpoint_url == "https://api.pricing.us-east-1.amazonaws.com"


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
                             "infra.ops.buckets", "infra.ops.aws_errors", "infra.ops.transfer_progress", "infra.cli"],
                            ("pulumi_policy", "pytest", "moto", "hypothesis"))
    assert result.returncode == 0, result.stderr
