"""EC2 instance-type facts the node model needs beyond the price table: cores, threads, ENIs, memory, GPUs, EFA.

The bundled table (instance-facts.csv, sources in SOURCES.md) is EC2 DescribeInstanceTypes output
reduced to these columns; `rows_from_describe` is the one reduction, used by the test that keeps
the table equal to its upstream and by `python -m infra prices refresh`. Standard library only.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

FACTS_FILE = Path(__file__).resolve().parent / "instance-facts.csv"
# Where the VPC CNI and nodeadm disagree with the DescribeInstanceTypes snapshot on the interfaces of
# the default network card, they win (they decide the node's maxPods): awslabs/amazon-eks-ami
# nodeadm/internal/kubelet/instance-info.jsonl @v20260724 and aws/amazon-vpc-cni-k8s
# pkg/vpc/vpc_ip_resource_limit.go give 15 for these; the snapshot says 8.
MAX_ENI_OVERRIDES = {"i7ie.48xlarge": 15, "i7ie.metal-48xl": 15, "i8ge.48xlarge": 15, "i8ge.metal-48xl": 15}
COLUMNS = ("instance_type", "default_vcpus", "default_cores", "default_threads_per_core", "valid_threads_per_core",
           "memory_mib", "max_enis", "ipv4_per_eni", "nvme_storage_gb", "gpu_manufacturer", "gpu_name",
           "gpu_memory_mib", "efa_interfaces", "network_cards")


@dataclass(frozen=True)
class InstanceFacts:
    """What DescribeInstanceTypes says about one type (None: the API does not say)."""

    name: str
    default_vcpus: int
    default_cores: int
    default_threads_per_core: int
    valid_threads_per_core: tuple[int, ...]  # empty: CPU options cannot be set for this type
    memory_mib: int
    max_enis: int  # network interfaces on the default network card (what the VPC CNI uses)
    ipv4_per_eni: int
    nvme_storage_gb: int  # NVMe instance store, 0 if none (or not NVMe: nodeadm's setup-local-disks uses NVMe only)
    gpu_manufacturer: str = ""  # GpuInfo.Gpus[0].Manufacturer (NVIDIA, AMD, Habana, ...), "" without GPUs
    gpu_name: str = ""  # GpuInfo.Gpus[0].Name (A10G, L4, L40S, A100, H100, T4, ...)
    gpu_memory_mib: int = 0  # memory of one GPU
    efa_interfaces: int = 0  # NetworkInfo.EfaInfo.MaximumEfaInterfaces; 0: EFA not supported
    network_cards: int = 1  # NetworkInfo.MaximumNetworkCards (an EFA interface per card on p4d/p5)


def nvme_storage_gb(storage: Mapping[str, Any]) -> int:
    """The instance store nodeadm can use: setup-local-disks finds only `*NVMe_Instance_Storage_*` disks
    (awslabs/amazon-eks-ami templates/al2023/runtime/bin/setup-local-disks @v20260724), so older SSD/HDD
    stores (x1e, d2, h1, c3, ...: NvmeSupport unsupported) count as none."""
    if storage.get("NvmeSupport") not in ("required", "supported"):
        return 0
    return int(storage.get("TotalSizeInGB", 0))


def gpu_columns(gpu_info: Mapping[str, Any]) -> dict[str, str]:
    """Manufacturer, model and per-GPU memory of the first (on EC2: the only) GPU kind of a type."""
    gpus = gpu_info.get("Gpus") or [{}]
    return {"gpu_manufacturer": str(gpus[0].get("Manufacturer", "")), "gpu_name": str(gpus[0].get("Name", "")),
            "gpu_memory_mib": str((gpus[0].get("MemoryInfo") or {}).get("SizeInMiB", 0))}


def rows_from_describe(items: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """CSV rows, sorted by type, from DescribeInstanceTypes `InstanceTypes` entries."""
    rows = []
    for it in items:
        vcpu, net = it.get("VCpuInfo") or {}, it.get("NetworkInfo") or {}
        default_card = net.get("DefaultNetworkCardIndex", 0)
        cards = {c.get("NetworkCardIndex"): c for c in net.get("NetworkCards") or []}
        enis = (cards.get(default_card) or {}).get("MaximumNetworkInterfaces", net.get("MaximumNetworkInterfaces", 0))
        threads = vcpu.get("DefaultThreadsPerCore", 1)
        rows.append({
            "instance_type": str(it["InstanceType"]),
            "default_vcpus": str(vcpu.get("DefaultVCpus", 0)),
            "default_cores": str(vcpu.get("DefaultCores", vcpu.get("DefaultVCpus", 0) // max(threads, 1))),
            "default_threads_per_core": str(threads),
            "valid_threads_per_core": " ".join(str(t) for t in vcpu.get("ValidThreadsPerCore") or []),
            "memory_mib": str((it.get("MemoryInfo") or {}).get("SizeInMiB", 0)),
            "max_enis": str(enis),
            "ipv4_per_eni": str(net.get("Ipv4AddressesPerInterface", 0)),
            "nvme_storage_gb": str(nvme_storage_gb(it.get("InstanceStorageInfo") or {})),
            **gpu_columns(it.get("GpuInfo") or {}),
            "efa_interfaces": str((net.get("EfaInfo") or {}).get("MaximumEfaInterfaces", 0) if net.get("EfaSupported") else 0),
            "network_cards": str(net.get("MaximumNetworkCards", 1)),
        })
    return sorted(rows, key=lambda r: r["instance_type"])


def write_facts(rows: Iterable[Mapping[str, str]], path: Path = FACTS_FILE) -> None:
    """Write the table (the bundled one, or a refreshed copy)."""
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_facts(path: Optional[Path] = None) -> dict[str, InstanceFacts]:
    """The facts table, by instance type."""
    with (path or FACTS_FILE).open(newline="") as fh:
        return {
            r["instance_type"]: InstanceFacts(
                name=r["instance_type"], default_vcpus=int(r["default_vcpus"]), default_cores=int(r["default_cores"]),
                default_threads_per_core=int(r["default_threads_per_core"]),
                valid_threads_per_core=tuple(int(t) for t in r["valid_threads_per_core"].split()),
                memory_mib=int(r["memory_mib"]), max_enis=MAX_ENI_OVERRIDES.get(r["instance_type"], int(r["max_enis"])),
                ipv4_per_eni=int(r["ipv4_per_eni"]),
                nvme_storage_gb=int(r["nvme_storage_gb"]), gpu_manufacturer=r["gpu_manufacturer"], gpu_name=r["gpu_name"],
                gpu_memory_mib=int(r["gpu_memory_mib"]), efa_interfaces=int(r["efa_interfaces"]),
                network_cards=int(r["network_cards"]),
            )
            for r in csv.DictReader(fh)
        }


def instance_arch(instance_type: str) -> str:
    """arm64 for Graviton families (a1, and a `g` after the generation digit: m6g, c7gn, r8gd), else x86_64."""
    family = instance_type.split(".")[0]
    if family == "a1":
        return "arm64"
    m = re.match(r"^[a-z]+\d+([a-z-]*)$", family)
    return "arm64" if m and "g" in m.group(1).split("-")[0] else "x86_64"
