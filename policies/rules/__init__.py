"""The pack's rules, grouped by concern; policies/pack.py lists them."""
