"""Budget config (`cloudviper:budget`): an AWS Budgets cost budget over the stack's cost tags, and who is told.

Every stack gets the budget (budgets without actions cost nothing); without `emails` or `snsTopicArn` it
has no notifications and the plan says that nobody will be told.
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import Field, field_validator

from infra.config.base import Model

# botocore budgets 2016-10-20 service-2.json: Subscriber.Address is 1-2147483648 characters of the pattern
# `(.*[\n\r\t\f\ ]?)*` (anything); an email subscriber's address must be an address, which we check loosely.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SNS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")


class BudgetConfig(Model):
    """A monthly AWS Budgets cost budget filtered by the stack's `project` and `stack` tags."""

    enabled: bool = Field(True, description="Create the budget (false: none, e.g. where the deploying role may "
                                            "not call AWS Budgets).")
    monthly_usd: Optional[float] = Field(None, gt=0, description="Monthly limit in USD; default: the policy config's "
                                                                 "`maxHourlyUsd` (max-hourly-cost) x 730 hours.")
    emails: list[str] = Field(default_factory=list, max_length=10,
                              description="Addresses told by email (AWS Budgets: at most 10 per notification).")
    sns_topic_arn: Optional[str] = Field(None, description="SNS topic told as well (its policy must let "
                                                           "budgets.amazonaws.com publish; see README).")
    # AWS Budgets allows 5 notifications per budget (CreateBudget NotificationsWithSubscribers): 4 + the forecast.
    actual_percent: list[float] = Field(default_factory=lambda: [80.0, 100.0], max_length=4,
                                        description="Notify when actual spending passes these percentages of the "
                                                    "limit (at most 4).")
    forecast_percent: Optional[float] = Field(100.0, gt=0, description="Notify when the month's forecast passes "
                                                                       "this percentage (null: no forecast alarm).")

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for address in v:
            if not EMAIL_RE.match(address):
                raise ValueError(f"{address!r} is not an email address")
        if len(set(v)) != len(v):
            raise ValueError("lists an address twice")
        return v

    @field_validator("sns_topic_arn")
    @classmethod
    def _sns(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not SNS_ARN_RE.match(v):
            raise ValueError("is not an SNS topic ARN; expected arn:aws:sns:<region>:<account>:<topic>")
        return v

    @field_validator("actual_percent")
    @classmethod
    def _percents(cls, v: list[float]) -> list[float]:
        if any(p <= 0 for p in v):
            raise ValueError("percentages must be greater than 0")
        if len(set(v)) != len(v):
            raise ValueError("lists a percentage twice")
        return sorted(v)

    @property
    def subscribed(self) -> bool:
        """Whether anybody is told."""
        return bool(self.emails or self.sns_topic_arn)
