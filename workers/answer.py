"""Entry point of the answer worker: `python workers/answer.py` (same as `guichet worker answer`).

Consumes the ask queue with GUICHET_ANSWER_CONCURRENCY generations in flight: retrieve → prompt → stream
from the OpenAI-compatible server at GUICHET_LLM_URL (vLLM) → guard → durable answer record → ack.
"""

import logging

from guichet.answer_service import run_answer_worker
from guichet.settings import load_settings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    run_answer_worker(load_settings())
