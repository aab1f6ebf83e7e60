"""ASGI entry point of the stateless HTTP functions: `uvicorn functions.app:app` (containers, Knative).

Same as `guichet function`: the process edge (masked logs, settings read once), clients created once,
queue depths exposed on GET /metrics.
"""

from guichet.api.app import create_app
from guichet.process.edge import start_process, watch_broker_queues
from guichet.wiring import build_stack

stack = build_stack(start_process())
watch_broker_queues(stack)
app = create_app(stack)
