"""Price tables (EC2, fixed AWS prices, refreshed spot) and the cost model; standard library only."""
