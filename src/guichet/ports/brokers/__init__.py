"""Broker implementations: MemoryBroker (embedded, SQLite-persisted) and RabbitMQBroker (pika).

RabbitMQBroker lives in brokers.rabbitmq and is imported from there, so that the embedded stack does not
import pika.
"""

from guichet.ports.brokers.memory import MemoryBroker

__all__ = ["MemoryBroker"]
