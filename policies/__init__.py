"""cloudviper policy pack: region, cost and security rules (see policies/README in README.md)."""
