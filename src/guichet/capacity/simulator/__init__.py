"""A GPU-free stand-in for vLLM: same API, same metric names, latency from a profile of a real GPU.

`python -m guichet.capacity.simulator --profile h100-llama3-8b --port 8001` (see __main__ for the options).
"""

from guichet.capacity.simulator.engine import Engine, Sequence
from guichet.capacity.simulator.profile import DEFAULT_PROFILE, Profile, ProfileError, load_profile

__all__ = ["DEFAULT_PROFILE", "Engine", "Profile", "ProfileError", "Sequence", "load_profile"]
