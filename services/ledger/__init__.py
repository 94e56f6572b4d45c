"""The ledger (台账) service: projections of what was done, rebuilt from the bus."""
