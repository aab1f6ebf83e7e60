"""Entry point of the answer worker: `python workers/answer.py` (same as `guichet worker answer`).

Consumes the ask queue with GUICHET_ANSWER_CONCURRENCY generations in flight: retrieve → prompt → stream
from the OpenAI-compatible server at GUICHET_LLM_URL (vLLM) → guard → durable answer record → ack.
"""

from guichet.answer.worker import run_answer_worker
from guichet.process.edge import start_process

if __name__ == "__main__":
    run_answer_worker(start_process())
