"""The user's API: typed stack config by area, cross-section checks, the loader, stack and policy files."""
