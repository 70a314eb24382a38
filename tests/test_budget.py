"""The stack's AWS budget: its tag filter is the tag the provider puts on every resource, its limit comes from the
policy config, and the request it becomes is one AWS Budgets accepts.

Upstream facts pinned here: botocore's budgets 2016-10-20 model (the pinned botocore) validates the CreateBudget
request we derive from the captured resource; the tag filter format `TagKeyValue: ["user:<key>$<value>"]` is the
AWS CLI's (aws/aws-cli awscli/examples/budgets/create-budget.rst) and pulumi_aws 7.51.1 budgets/budget.py's docs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

import infra.plan.program as program_module
from infra.config.errors import ConfigError
from infra.config.stackfile import load_stack_file
from infra.documents.budget import filtered_tags
from infra.plan.harness import Capture
from infra.plan.program import run_program
from infra.pricing.tables import HOURS_PER_MONTH
from tests.aws_emulator import start_moto
from tests.conftest import BASE_CONFIG, _stack_capture, copy_test_project, run_config

BUDGET = "aws:budgets/budget:Budget"


def provider_tags(cap: Capture) -> dict[str, str]:
    """The provider's default tags (providers hand their object inputs over as JSON text)."""
    tags = cap.one("pulumi:providers:aws").props["defaultTags"]
    return dict((json.loads(tags) if isinstance(tags, str) else tags)["tags"])


def create_budget_request(props: dict[str, Any], account: str = "123456789012") -> dict[str, Any]:
    """The CreateBudget request the AWS provider sends for these resource properties (terraform-provider-aws
    internal/service/budgets/budget.go expandBudget: costFilters as a map, limit as Spend)."""
    budget: dict[str, Any] = {
        "BudgetName": props["name"], "BudgetType": props["budgetType"], "TimeUnit": props["timeUnit"],
        "BudgetLimit": {"Amount": props["limitAmount"], "Unit": props["limitUnit"]},
        "CostFilters": {f["name"]: list(f["values"]) for f in props.get("costFilters") or []},
    }
    notifications = []
    for n in props.get("notifications") or []:
        subscribers = [{"SubscriptionType": "EMAIL", "Address": a} for a in n.get("subscriberEmailAddresses") or []]
        subscribers += [{"SubscriptionType": "SNS", "Address": a} for a in n.get("subscriberSnsTopicArns") or []]
        notifications.append({"Notification": {
            "NotificationType": n["notificationType"], "ComparisonOperator": n["comparisonOperator"],
            "Threshold": float(n["threshold"]), "ThresholdType": n["thresholdType"]}, "Subscribers": subscribers})
    request: dict[str, Any] = {"AccountId": account, "Budget": budget}
    if notifications:
        request["NotificationsWithSubscribers"] = notifications
    return request


def test_the_budget_filters_on_the_tag_the_provider_puts_on_every_resource() -> None:
    cap = _stack_capture("dev")
    budget = cap.one(BUDGET).props
    selected = {k: v for f in budget["costFilters"] for k, v in filtered_tags(f).items()}
    assert selected == {"stack": "dev"}
    assert selected.items() <= provider_tags(cap).items()
    assert budget["costFilters"] == [{"name": "TagKeyValue", "values": ["user:stack$dev"]}]


def test_the_limit_is_the_policy_cap_for_a_month_unless_set(stacks_dir: Any) -> None:
    cap = _stack_capture("reference")  # tests/stacks/policies/config/reference.json: maxHourlyUsd 30
    assert float(cap.one(BUDGET).props["limitAmount"]) == 30 * HOURS_PER_MONTH
    assert cap.outputs["monthlyBudgetUsd"].value == 30 * HOURS_PER_MONTH
    own = run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:budget": {"monthlyUsd": 500}})
    assert own.one(BUDGET).props["limitAmount"] == "500.00"
    default = run_config(copy.deepcopy(BASE_CONFIG))  # no policies/config/test.json: the rule's default, $25/h
    assert float(default.one(BUDGET).props["limitAmount"]) == 25 * HOURS_PER_MONTH
    off = run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:budget": {"enabled": False}})
    assert not off.of_type(BUDGET)


def test_a_policy_config_change_alone_changes_the_limit(tmp_path: Any) -> None:
    # The cap is read from the project's policies/config/<stack>.json, not from the stack's config: evaluations
    # shared by the tests (infra/plan/program.py EVALUATIONS, on here) must tell the two projects apart.
    assert program_module.EVALUATIONS is not None
    limits = []
    for cap in (None, 0.5):
        project = copy_test_project(tmp_path / str(cap), ("dev",))
        if cap is not None:
            (project / "policies/config/dev.json").write_text(json.dumps({"max-hourly-cost": {"maxHourlyUsd": cap}}))
        limits.append(run_program(load_stack_file(project, "dev"), project).one(BUDGET).props["limitAmount"])
    assert limits[0] != limits[1] and float(limits[1]) == 0.5 * HOURS_PER_MONTH


SUBSCRIBED = {"emails": ["pi@example.org", "ops@example.org"], "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:spend",
              "actualPercent": [50, 80, 100], "forecastPercent": 100}


def test_notifications_reach_every_subscriber_and_botocore_accepts_the_request() -> None:
    cap = run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:budget": SUBSCRIBED})
    props = cap.one(BUDGET).props
    kinds = [(n["notificationType"], n["threshold"]) for n in props["notifications"]]
    assert kinds == [("ACTUAL", 50), ("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100)]
    for n in props["notifications"]:
        assert n["subscriberEmailAddresses"] == SUBSCRIBED["emails"]
        assert n["subscriberSnsTopicArns"] == [SUBSCRIBED["snsTopicArn"]]
    model = botocore.session.get_session().get_service_model("budgets")
    shape = model.operation_model("CreateBudget").input_shape
    report = ParamValidator().validate(create_budget_request(props), shape)
    assert not report.has_errors(), report.generate_report()
    broken = create_budget_request(props)
    broken["NotificationsWithSubscribers"][0]["Notification"]["Threshold"] = "80%"
    assert ParamValidator().validate(broken, shape).has_errors()
    # ParamValidator does not check enums: compare with the model's.
    request = create_budget_request(props)
    enums = {name: model.shape_for(name).enum for name in
             ("BudgetType", "TimeUnit", "NotificationType", "ComparisonOperator", "ThresholdType", "SubscriptionType")}
    assert request["Budget"]["BudgetType"] in enums["BudgetType"]
    assert request["Budget"]["TimeUnit"] in enums["TimeUnit"]
    for n in request["NotificationsWithSubscribers"]:
        for key in ("NotificationType", "ComparisonOperator", "ThresholdType"):
            assert n["Notification"][key] in enums[key]
        assert {sub["SubscriptionType"] for sub in n["Subscribers"]} <= set(enums["SubscriptionType"])
        assert len(n["Subscribers"]) <= 11  # Subscribers: max 11 (one SNS and up to ten email)


def test_the_request_round_trips_through_the_local_aws_budgets_emulator() -> None:
    cap = run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:budget": SUBSCRIBED})
    request = create_budget_request(cap.one(BUDGET).props)
    server, url = start_moto()
    try:
        client = boto3.client("budgets", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                              aws_secret_access_key="test")
        client.create_budget(**request)
        got = client.describe_budget(AccountId=request["AccountId"], BudgetName=request["Budget"]["BudgetName"])
        assert got["Budget"]["CostFilters"] == {"TagKeyValue": ["user:stack$test"]}
        assert got["Budget"]["BudgetLimit"]["Amount"].startswith(str(25 * HOURS_PER_MONTH))
        found = client.describe_notifications_for_budget(AccountId=request["AccountId"],
                                                         BudgetName=request["Budget"]["BudgetName"])
        assert len(found["Notifications"]) == 4
    finally:
        server.stop()


@pytest.mark.parametrize(("budget", "error"), [
    ({"emails": ["not-an-address"]}, "not an email address"),
    ({"snsTopicArn": "arn:aws:sqs:us-east-1:123456789012:q"}, "not an SNS topic ARN"),
    ({"actualPercent": [10, 20, 30, 40, 50]}, "at most 4"),
    ({"monthlyUsd": 0}, "greater than 0"),
])
def test_bad_budget_config_names_the_key(budget: dict[str, Any], error: str) -> None:
    with pytest.raises(ConfigError, match="cloudviper:budget") as exc:
        run_config({**copy.deepcopy(BASE_CONFIG), "cloudviper:budget": budget})
    assert error in str(exc.value)
