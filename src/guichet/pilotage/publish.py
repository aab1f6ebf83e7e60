"""Publishing analytics events on their queue (settings.analytics_queue), through the broker port.

The answer worker publishes after the final record is stored; a failed publish fails the job's delivery,
so the job is redelivered, finds its final record and publishes again (the store ignores duplicates).
The feedback route publishes after the rating is stored; if the broker is down the rating is kept and
`guichet stats rebuild` brings it in later.
"""

from __future__ import annotations

from guichet.answer.record import AnswerRecord
from guichet.answer.store import Feedback
from guichet.pilotage.events import answer_event, rating_event
from guichet.pilotage.themes import ThemeLookup
from guichet.ports.broker import Broker


class AnalyticsPublisher:
    def __init__(self, broker: Broker, queue: str, themes: ThemeLookup) -> None:
        self._broker = broker
        self._queue = queue
        self._themes = themes

    @property
    def themes(self) -> ThemeLookup:
        return self._themes

    def answer(self, record: AnswerRecord) -> None:
        """Raises BrokerError when the broker did not take the event."""
        event = answer_event(record, self._themes.of_record(record))
        self._broker.publish(self._queue, event.to_json(), message_id=f"answer:{event.id}")

    def rating(self, feedback: Feedback) -> None:
        event = rating_event(feedback)
        self._broker.publish(self._queue, event.to_json(), message_id=f"rating:{event.id}")
