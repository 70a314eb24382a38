"""The stack's AWS Budgets budget as data: its tag filter, limit and notifications (pure).

Facts (botocore budgets 2016-10-20 service-2.json, pinned botocore; AWS CLI awscli/examples/budgets/create-budget.rst):
- CostFilters is a map of filter name to values; a user-defined cost allocation tag is filtered as
  `TagKeyValue: ["user:<key>$<value>"]` (several values are alternatives).
- A Notification has NotificationType ACTUAL|FORECASTED, ComparisonOperator GREATER_THAN|LESS_THAN|EQUAL_TO,
  Threshold and ThresholdType PERCENTAGE|ABSOLUTE_VALUE; each has 1-11 subscribers (one SNS, up to ten email).
- BudgetName: 1-100 characters without ':' or '\\'.
Budgets read Cost Explorer data, so the tag must be activated as a cost allocation tag (once per account, by the
management account) before the budget sees any spending (AWS Billing user guide, "Activating user-defined cost
allocation tags").
"""

from __future__ import annotations

from typing import Any

from infra.config.budget import BudgetConfig
from infra.pricing.tables import HOURS_PER_MONTH

FILTER_TAG = "stack"  # the provider's default tag naming the stack (infra/documents/naming.stack_tags)


def tag_filter(tags: dict[str, str]) -> dict[str, Any]:
    """The CostFilters entry that selects what carries the stack's `stack` tag."""
    return {"name": "TagKeyValue", "values": [f"user:{FILTER_TAG}${tags[FILTER_TAG]}"]}


def filtered_tags(cost_filter: dict[str, Any]) -> dict[str, str]:
    """The (key, value) pairs a TagKeyValue filter selects (the inverse of tag_filter)."""
    pairs = {}
    for value in cost_filter.get("values") or []:
        key, _, tag_value = str(value).removeprefix("user:").partition("$")
        pairs[key] = tag_value
    return pairs


def monthly_limit(cfg: BudgetConfig, max_hourly_usd: float) -> float:
    """The configured monthly amount, or the policy cap at maximum scale for a whole month."""
    if cfg.monthly_usd is not None:
        return round(cfg.monthly_usd, 2)
    return round(max_hourly_usd * HOURS_PER_MONTH, 2)


def notifications(cfg: BudgetConfig) -> list[dict[str, Any]]:
    """ACTUAL above each percentage and FORECASTED above forecastPercent, to every subscriber; none without any."""
    if not cfg.subscribed:
        return []
    who: dict[str, Any] = {}
    if cfg.emails:
        who["subscriber_email_addresses"] = list(cfg.emails)
    if cfg.sns_topic_arn:
        who["subscriber_sns_topic_arns"] = [cfg.sns_topic_arn]
    found = [{"notification_type": "ACTUAL", "comparison_operator": "GREATER_THAN", "threshold": p,
              "threshold_type": "PERCENTAGE", **who} for p in cfg.actual_percent]
    if cfg.forecast_percent is not None:
        found.append({"notification_type": "FORECASTED", "comparison_operator": "GREATER_THAN",
                      "threshold": cfg.forecast_percent, "threshold_type": "PERCENTAGE", **who})
    return found


def budget_name(prefix: str) -> str:
    """`<project>-<stack>-monthly` (unique per account, as stacks' prefixes are)."""
    return f"{prefix}-monthly"
