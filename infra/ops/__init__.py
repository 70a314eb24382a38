"""Operational tools that call AWS with boto3: preflight checks, price refresh, dataset upload."""
