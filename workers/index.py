"""Entry point of the index worker: `python workers/index.py` (same as `guichet worker index`).

Consumes MinIO bucket notifications from the index queue: parse → chunk → embed → upsert/delete.
"""

import logging

from guichet.serving import run_index_worker
from guichet.settings import load_settings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_index_worker(load_settings())
