"""Ports: one small Protocol per concern, each with an embedded and a production implementation."""
