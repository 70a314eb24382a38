"""A real local AWS API (moto in server mode on 127.0.0.1) for the boto3 tools, and a Pricing API stub.

moto does not implement EC2 vCPU quotas (only VPC) nor the Pricing API, so the fixture seeds the
emulator's Service Quotas data with EC2 quota values, and a small loopback HTTP server answers
GetProducts with documents in the real PriceList format.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.server import ThreadedMotoServer
from moto.servicequotas import models as sq_models

EC2_QUOTAS: dict[str, float] = {}
_original_get = sq_models.ServiceQuotasBackend.get_service_quota


def _get_service_quota(self: Any, service_code: str, quota_code: str) -> dict[str, Any]:
    if service_code == "ec2" and quota_code in EC2_QUOTAS:
        return {"ServiceCode": "ec2", "QuotaCode": quota_code, "QuotaName": quota_code, "Value": EC2_QUOTAS[quota_code],
                "Unit": "None", "Adjustable": True, "GlobalQuota": False}
    return _original_get(self, service_code, quota_code)


sq_models.ServiceQuotasBackend.get_service_quota = _get_service_quota  # type: ignore[method-assign]


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """moto on 127.0.0.1 at a free port; returns the server and its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def price_document(instance_type: str, region: str, usd: float) -> str:
    """One GetProducts PriceList entry in AWS's format (on-demand Linux, shared tenancy)."""
    return json.dumps({
        "product": {"productFamily": "Compute Instance", "attributes": {
            "instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux", "tenancy": "Shared",
            "preInstalledSw": "NA", "capacitystatus": "Used"}, "sku": f"SKU{instance_type}"},
        "serviceCode": "AmazonEC2",
        "terms": {"OnDemand": {f"SKU{instance_type}.JRTCKXETXF": {"priceDimensions": {
            f"SKU{instance_type}.JRTCKXETXF.6YS6EN2CT7": {"unit": "Hrs", "pricePerUnit": {"USD": f"{usd:.10f}"},
                                                          "description": f"${usd} per On Demand Linux {instance_type}"}}}}},
    })


class PricingStub:
    """GetProducts over real HTTP on 127.0.0.1, answering with fixed prices; records the filters asked for."""

    def __init__(self, prices: dict[str, float], region: str) -> None:
        self.prices, self.region = prices, region
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                stub.requests.append({"target": self.headers.get("X-Amz-Target"), "body": body})
                doc = {"FormatVersion": "aws_v1",
                       "PriceList": [price_document(t, stub.region, p) for t, p in stub.prices.items()]}
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PricingStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
