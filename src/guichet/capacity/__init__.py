"""Capacity planning: the sizing model and the GPU-free engine simulator."""
