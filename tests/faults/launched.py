"""A deployment of the ask path started for one fault, with the ledger of its asks, and outages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

from guichet.testing.fake_llm_server import FakeOpenAIServer
from guichet.testing.helpers import wait_for
from tests.deployment import QUESTION, Deployment
from tests.faults.ledger import AskLedger, FaultRow


@contextmanager
def outage(down: Callable[[], object], up: Callable[[], object]) -> Iterator[None]:
    """A dependency down for the duration of the with block, back up after it whatever happened."""
    down()
    try:
        yield
    finally:
        up()


@dataclass
class Launched:
    deployment: Deployment
    ledger: AskLedger
    llm: FakeOpenAIServer
    bucket: str

    def ask_many(self, n: int) -> None:
        """n distinct asks, each accepted (202), then waits until two generations are under way."""
        for _ in range(n):
            assert self.ledger.submit(f"{QUESTION} (demande {self.ledger.row.submitted})") == 202
        wait_for(lambda: len(self.llm.requests) >= min(n, 2), timeout=60)

    def ask_across(
        self,
        outage: AbstractContextManager[object],
        *,
        before: int,
        during: int,
        after: int,
        while_down: Callable[[], object] = lambda: None,
    ) -> FaultRow:
        """Asks accepted with generations in flight, then asks sent inside the outage (each refused with
        503), then asks once the deployment is ready again; every accepted one answered exactly once."""
        self.ask_many(before)
        with outage:
            refused = [self.ledger.submit(f"{QUESTION} (pendant la panne {n})") for n in range(during)]
            while_down()
        assert refused == [503] * during
        wait_for(self.deployment.ready, timeout=60)
        self.ask_many(after)
        row = self.ledger.settle()
        assert (row.accepted, row.refused) == (before + after, during)
        assert row.lost == 0 and row.duplicated == 0 and row.answered == row.accepted, row
        return row


Launch = Callable[..., Launched]  # the `launch` fixture (conftest.py)
