"""`prices refresh` against moto and stubs on 127.0.0.1: the tables it writes, and every AWS error in one line."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from infra import ROOT
from infra.pricing.tables import BUNDLED_ONLY, load_prices
from tests import test_aws_tools
from tests.aws_emulator import LoopbackServer, PricingStub
from tests.test_aws_tools import cli, no_credentials_env

aws = test_aws_tools.aws  # the same moto server fixture (module scope: one server for this module)


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


def one_error_line(result: subprocess.CompletedProcess[str], start: str, code: int = 1) -> str:
    """The one stderr line of a failed refresh: exit 1 when AWS answered badly, 2 when the credentials are the
    user's problem (reported like a config error)."""
    assert result.returncode == code, result.stdout + result.stderr
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
                   "cloudviper prices refresh: pricing GetProducts: NoCredentialsError: Unable to locate credentials", 2)
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
