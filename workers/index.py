"""Entry point of the index worker: `python workers/index.py` (same as `guichet worker index`).

Consumes MinIO bucket notifications from the index queue: parse → chunk → embed → upsert/delete.
"""

from guichet.indexing.worker import run_index_worker
from guichet.process.edge import start_process

if __name__ == "__main__":
    run_index_worker(start_process())
