"""The README documents every config key and the two set-up commands CI relies on."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from infra.config.arkouda import ArkoudaConfig, ArkoudaPersistenceConfig
from infra.config.budget import BudgetConfig
from infra.config.cluster import AccessEntryConfig, AutoscalerConfig, ClusterConfig, TerminationHandlerConfig
from infra.config.dask import DaskConfig, DaskUserConfig, DaskWorkersConfig, JupyterConfig
from infra.config.dask_gpu import DaskGpuWorkersConfig
from infra.config.federation import FederationConfig, FederationSourceConfig, FederationTargetConfig
from infra.config.loader import SECTIONS
from infra.config.monitoring import MonitoringConfig, MonitoringUser, SpotFeedConfig
from infra.config.mpi import MpiConfig
from infra.config.namespaces import (
    JobRobotConfig,
    LimitsConfig,
    MonitorConfig,
    NamespaceAccessConfig,
    NamespaceConfig,
    QuotaConfig,
    SecretConfig,
)
from infra.config.network import BucketConfig, LifecycleConfig, NetworkConfig
from infra.config.pools import NodeGroupConfig, TaintConfig
from infra.config.stack import TagsConfig

MODELS: list[type[BaseModel]] = [TagsConfig, NetworkConfig, BucketConfig, LifecycleConfig, ClusterConfig,
                                 AccessEntryConfig, AutoscalerConfig, TerminationHandlerConfig, NodeGroupConfig, TaintConfig,
                                 NamespaceConfig, QuotaConfig, LimitsConfig, NamespaceAccessConfig, JobRobotConfig,
                                 MonitorConfig, SecretConfig, DaskConfig, DaskWorkersConfig, DaskGpuWorkersConfig, JupyterConfig,
                                 DaskUserConfig,
                                 FederationConfig, FederationSourceConfig, FederationTargetConfig,
                                 ArkoudaConfig, ArkoudaPersistenceConfig, MpiConfig, MonitoringConfig, SpotFeedConfig,
                                 MonitoringUser, BudgetConfig]


@pytest.fixture
def readme(repo_root) -> str:
    return (repo_root / "README.md").read_text()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_in_the_config_reference(readme, model):
    for name, field in model.model_fields.items():
        assert f"| `{field.alias or name}` |" in readme, f"{model.__name__}.{name} is not documented"
        assert field.description, f"{model.__name__}.{name} has no description"


def test_every_top_level_key_has_a_heading(readme):
    for key in SECTIONS:
        assert f"`cloudviper:{key}`" in readme and (f"### `cloudviper:{key}`" in readme or key == "secretValues")


def test_ci_runs_the_readme_test_command(readme, repo_root):
    assert "make plan" in readme and "make test" in readme
    assert "make test" in (repo_root / ".ci" / "run").read_text()


def test_every_rule_and_setting_is_documented(readme):
    from policies.pack import POLICIES

    for policy in POLICIES:
        assert f"| `{policy.name}` |" in readme, policy.name
        for setting in (policy.config_schema.properties if policy.config_schema else {}):
            assert f"`{setting}`" in readme, f"{policy.name}.{setting}"
