"""Test doubles and helpers for code built on guichet (tests, benchmarks, load tests, the simulator):
never imported by the answer or document paths."""
