"""Retention: answer records and feedback older than their settings are deleted (`guichet purge`).

Age is the object's last write in the answer store (a record's last write is its final status), so the
purge lists the folders without reading a record. Run it daily (a CronJob in the Helm chart); API keys
(access/keys/) are never purged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from guichet.ports.store import ObjectStore, StoredObject

log = logging.getLogger(__name__)

DAY_S = 86_400.0
FOLDERS = {"answers": "answers/", "feedback": "feedback/"}


@dataclass
class PurgeReport:
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FOLDERS, 0))
    kept: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FOLDERS, 0))
    undated: int = 0

    def to_json(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "deleted": self.deleted, "kept": self.kept, "undated": self.undated}

    def summary(self) -> str:
        verb = "à supprimer" if self.dry_run else "supprimés"
        return (
            f"réponses {verb} : {self.deleted['answers']} (conservées : {self.kept['answers']}) ; "
            f"retours {verb} : {self.deleted['feedback']} (conservés : {self.kept['feedback']})"
        )


def purge(
    store: ObjectStore,
    *,
    answer_days: float,
    feedback_days: float,
    dry_run: bool = False,
    now: float | None = None,
) -> PurgeReport:
    """Deletes what is older than its retention (0 days = kept forever)."""
    now = time.time() if now is None else now
    report = PurgeReport(dry_run)
    for name, days in (("answers", answer_days), ("feedback", feedback_days)):
        for obj in store.list(FOLDERS[name]):
            written = _written_at(store, obj)
            if written is None:
                report.undated += 1  # kept: an object without a date is not known to be old
            elif days > 0 and now - written > days * DAY_S:
                if not dry_run:
                    store.delete(obj.key)
                report.deleted[name] += 1
                continue
            report.kept[name] += 1
    log.info("purge: %s", report.summary())
    return report


def _written_at(store: ObjectStore, obj: StoredObject) -> float | None:
    stamp = obj.last_modified
    if not stamp:
        head = store.head(obj.key)
        stamp = head.last_modified if head else ""
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except ValueError:
        return None
