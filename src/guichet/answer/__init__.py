"""The ask path: submission → ask queue → answer worker → pipeline (retrieve, evidence, draft, guard) →
answer record in its store and live events on the answer stream."""
