"""ASGI entry point of the stateless HTTP functions: `uvicorn functions.app:app` (containers, Knative).

Same as `guichet function`. Clients are created once, here, at the process edge.
"""

from guichet.api.app import create_app
from guichet.settings import load_settings
from guichet.wiring import build_stack

app = create_app(build_stack(load_settings()))
