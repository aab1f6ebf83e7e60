"""Pilotage: the sites registry, analytics events and their store, the statistics (issue 17, ADR 0024)."""
