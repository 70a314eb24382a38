"""A real local AWS API (moto in server mode on 127.0.0.1) for the boto3 tools, and a Pricing API stub.

moto does not implement EC2 vCPU quotas (only VPC) nor the Pricing API, so the fixture seeds the
emulator's Service Quotas data with EC2 quota values, and a small loopback HTTP server answers
GetProducts with documents in the real PriceList format.
"""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

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


class LoopbackServer:
    """A threaded HTTP(S) server on 127.0.0.1 that answers every request with `reply(method, path, headers, body)`."""

    def __init__(self, reply: Any, tls: Optional[ssl.SSLContext] = None) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, content_type, data = reply(self.command, self.path, self.headers,
                                                   self.rfile.read(length) if length else b"")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _answer  # noqa: N815 (http.server's method names)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        # shutdown() waits for the serving loop to look (every 0.5 s by default: CPython's socketserver.py,
        # BaseServer.serve_forever); every test that leaves a stub paid up to that
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class PricingStub(LoopbackServer):
    """GetProducts over real HTTP on 127.0.0.1, answering with fixed prices; records the filters asked for."""

    def __init__(self, prices: dict[str, float], region: str) -> None:
        self.prices, self.region = prices, region
        self.requests: list[dict[str, Any]] = []

        def reply(method: str, path: str, headers: Any, body: bytes) -> tuple[int, str, bytes]:
            self.requests.append({"target": headers.get("X-Amz-Target"), "body": json.loads(body or b"{}")})
            doc = {"FormatVersion": "aws_v1",
                   "PriceList": [price_document(t, self.region, p) for t, p in self.prices.items()]}
            return 200, "application/x-amz-json-1.1", json.dumps(doc).encode()

        super().__init__(reply)


class CheckIpStub(LoopbackServer):
    """Answers like http://checkip.amazonaws.com/: this caller's public address, one line of text."""

    def __init__(self, address: str) -> None:
        super().__init__(lambda *_: (200, "text/plain", f"{address}\n".encode()))
