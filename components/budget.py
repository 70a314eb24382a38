"""The stack's AWS Budgets budget: monthly cost over the stack's `stack` tag, with its alarms."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_aws as aws

from infra.config.budget import BudgetConfig
from infra.documents import budget as b


class StackBudget(pulumi.ComponentResource):
    """A COST budget per month whose filter is the tag the AWS provider puts on every resource of the stack."""

    def __init__(self, name: str, cfg: BudgetConfig, tags: dict[str, str], prefix: str, limit_usd: float,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("cloudviper:cost:StackBudget", name, None, opts)
        self.budget = aws.budgets.Budget(
            name, name=b.budget_name(prefix), budget_type="COST", time_unit="MONTHLY",
            limit_amount=f"{limit_usd:.2f}", limit_unit="USD", cost_filters=[b.tag_filter(tags)],
            notifications=b.notifications(cfg), tags={"Name": b.budget_name(prefix)},
            opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({})
