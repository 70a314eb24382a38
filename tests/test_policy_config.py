"""Policy config files are validated like stack config: file, key, value and what is allowed; exit 2, never 0 or 1."""

from __future__ import annotations

import json

import pulumi_policy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config.errors import ConfigError
from infra.config.policy_file import LEVELS, load_policy_config, validate_policy_config
from infra.plan.policy_runner import rule_config
from policies.pack import POLICIES, pack_specs
from tests.conftest import copy_test_project
from tests.test_plan_cli import plan

SPECS = pack_specs()
FILE = "policies/config/lab.json"


def problems(doc) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_policy_config(doc, FILE, SPECS)
    return info.value.problems


def test_the_levels_are_the_installed_sdks():
    assert set(LEVELS) == {e.value for e in pulumi_policy.EnforcementLevel}


@pytest.mark.parametrize(("doc", "expected"), [
    # a typo in a rule name used to drop the budget guard silently
    ({"max-hourly-cst": {"maxHourlyUsd": 2}},
     f'{FILE}: "max-hourly-cst": unknown rule; did you mean "max-hourly-cost"? allowed rules: accelerated-pools, allowed-regions'),
    ({"max-hourly-cost": {"maxHourlyUsd": "ten"}},
     f'{FILE}: max-hourly-cost.maxHourlyUsd: "ten" is not allowed: expected a number'),
    ({"max-hourly-cost": {"maxHourlyUSD": 3}},
     f'{FILE}: max-hourly-cost.maxHourlyUSD: unknown setting; did you mean "maxHourlyUsd"? allowed settings: '
     "maxDayOneHourlyUsd, maxHourlyUsd, maxIdleHourlyUsd"),
    # a string where a list is expected used to be read as a list of characters
    ({"allowed-regions": {"allowedRegions": "us-west-2"}},
     f'{FILE}: allowed-regions.allowedRegions: "us-west-2" is not allowed: expected a list of strings'),
    ({"allowed-regions": {"allowedRegions": ["us-east-1", "us-wset-2"]}},
     f'{FILE}: allowed-regions.allowedRegions[1]: "us-wset-2" is not an AWS region; did you mean "us-west-2"?'),
    ({"allowed-regions": {"allowedRegions": ["us-east-1", 7]}},
     f"{FILE}: allowed-regions.allowedRegions[1]: 7 is not allowed: expected a string"),
    ({"instance-limits": {"maxInstancesPerGroup": 2.5}},
     f"{FILE}: instance-limits.maxInstancesPerGroup: 2.5 is not allowed: expected a whole number"),
    ({"max-hourly-cost": {"enforcementLevel": "strict"}},
     f'{FILE}: max-hourly-cost.enforcementLevel: "strict" is not allowed: expected one of advisory, mandatory'),
    ({"max-hourly-cost": "mandatry"},
     f'{FILE}: max-hourly-cost.enforcementLevel: "mandatry" is not allowed'),
    ({"max-hourly-cost": 3}, f"{FILE}: max-hourly-cost: 3 is not allowed: expected an enforcement level"),
    (["allowed-regions"], f'{FILE}: ["allowed-regions"] is not allowed: expected a map of rule name to settings'),
    # the AWS bypass rules' settings (policies/rules/resource_types.py, spot.py)
    ({"allowed-resource-types": {"allowedResourceTypes": "aws:rds/*"}},
     f'{FILE}: allowed-resource-types.allowedResourceTypes: "aws:rds/*" is not allowed: expected a list of strings'),
    ({"allowed-resource-types": {"allowedHelmCharts": [7]}},
     f"{FILE}: allowed-resource-types.allowedHelmCharts[0]: 7 is not allowed: expected a string"),
    ({"spot-workers": {"maxOnDemandShare": -0.5}},
     f"{FILE}: spot-workers.maxOnDemandShare: -0.5 is not allowed: expected a number of at least 0"),
])
def test_each_mistake_names_file_key_value_and_what_is_allowed(doc, expected):
    found = problems(doc)
    assert any(p.startswith(expected) for p in found), found


def test_every_mistake_is_reported_at_once():
    found = problems({"max-hourly-cst": {}, "allowed-regions": {"allowedRegions": "x"},
                      "instance-limits": {"maxInstancesPerStack": "many"}})
    assert len(found) == 3, found


def test_a_valid_config_fills_the_schema_defaults():
    config = validate_policy_config({"max-hourly-cost": {"maxHourlyUsd": 2, "maxDayOneHourlyUsd": None},
                                     "spot-workers": "advisory"}, FILE, SPECS)
    level, budget = config.rules["max-hourly-cost"]
    assert level == "mandatory" and budget == {"maxHourlyUsd": 2, "maxDayOneHourlyUsd": None, "maxIdleHourlyUsd": None}
    assert config.rules["spot-workers"][0] == "advisory"
    assert config.rules["allowed-regions"][1] == {"allowedRegions": ["us-east-1"]}
    assert set(config.rules) == {p.name for p in POLICIES}


def test_rule_config_raises_for_one_rule():
    budget = next(p for p in POLICIES if p.name == "max-hourly-cost")
    with pytest.raises(ConfigError, match=r'x.json: max-hourly-cost.maxDayOneHourlyUsd: "a lot" is not allowed: '
                                          r"expected a number or null"):
        rule_config(budget, {"maxDayOneHourlyUsd": "a lot"}, "x.json")


def test_a_missing_file_is_the_rule_defaults_and_says_so(tmp_path):
    config = load_policy_config("nope", tmp_path / "policies" / "config", SPECS)
    assert config.path is None and config.label(tmp_path) == "rule defaults (no policies/config/<stack>.json)"
    assert config.rules["max-hourly-cost"][1]["maxHourlyUsd"] == 25.0


@pytest.mark.parametrize("content", ['{"max-hourly-cst": {"maxHourlyUsd": 2}}', '{"max-hourly-cost": {"maxHourlyUsd": "ten"}}',
                                     '{"allowed-regions": {"allowedRegions": "us-west-2"}}', "{not json"])
def test_the_plan_exits_2_naming_the_file(tmp_path, content):
    project = copy_test_project(tmp_path, ("dev",))
    (project / "policies" / "config" / "dev.json").write_text(content)
    result = plan("--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "policies/config/dev.json" in result.stderr and "Traceback" not in result.stderr


def test_a_stack_without_its_own_policy_config_says_so_in_the_header(tmp_path):
    project = copy_test_project(tmp_path, ("dev",))
    (project / "policies" / "config" / "dev.json").unlink()
    result = plan("--stack", "dev", "--project-dir", str(project))
    first = result.stdout.splitlines()[:3]
    assert any("no policies/config/dev.json" in line and "python -m infra init" in line for line in first), first


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
                    max_leaves=8)
RULE_NAMES = st.sampled_from([*sorted(SPECS), "max-hourly-cst", "regions", ""])
SETTING = st.sampled_from([*sorted({k for s in SPECS.values() for k in s.properties}), "enforcementLevel", "x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(JSON, st.dictionaries(RULE_NAMES, st.one_of(JSON, st.dictionaries(SETTING, JSON, max_size=3)),
                                       max_size=4)))
def test_any_document_is_accepted_or_refused_with_named_problems(doc):
    try:
        config = validate_policy_config(doc, FILE, SPECS)
    except ConfigError as exc:
        assert exc.problems and all(p.startswith(FILE) for p in exc.problems), exc.problems
        return
    for name, (level, cfg) in config.rules.items():  # accepted: every value has its schema's type
        assert level in LEVELS and set(cfg) == set(SPECS[name].properties)
    json.dumps(config.rules)



def test_remediate_counts_as_mandatory_offline_as_the_analyzer_reports_it(tmp_path):
    # pulumi_policy/policy.py (1.21.0) Analyze: a violation at `remediate` is reported as mandatory (stack rules
    # cannot remediate; none of ours has a remediation), so it stops `pulumi up` and must stop the plan too
    project = copy_test_project(tmp_path, ("dev",))
    (project / "policies" / "config" / "dev.json").write_text(
        '{"max-hourly-cost": {"maxHourlyUsd": 0.01, "enforcementLevel": "remediate"}}')
    result = plan("--stack", "dev", "--project-dir", str(project))
    assert result.returncode == 3, result.stdout[-2000:]
    assert "[mandatory] max-hourly-cost" in result.stdout


def test_all_sets_every_level_and_a_rules_entry_overrides_it():
    # pulumi/pulumi pkg/resource/analyzer/config.go: `all` applies one enforcement level to every policy first
    config = validate_policy_config({"all": "advisory", "max-hourly-cost": {"enforcementLevel": "mandatory"},
                                     "environments": ["lab/policy"]}, FILE, SPECS)
    assert config.rules["spot-workers"][0] == "advisory" and config.rules["max-hourly-cost"][0] == "mandatory"
    assert any(p.startswith(f'{FILE}: all: "sometimes" is not allowed') for p in problems({"all": "sometimes"}))
    assert any(p.startswith(f"{FILE}: environments: 3 is not allowed") for p in problems({"environments": 3}))
