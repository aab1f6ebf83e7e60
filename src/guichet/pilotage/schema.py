"""The analytics store's schema and its migrations, one list for PostgreSQL and SQLite alike.

The events seen (answers, ratings: their ids make redelivery harmless) and the rollups the statistics
read: one row per month × site × theme with counters (cells), and per month × site (ADR 0024). A
migration is a list of statements applied once, in order, inside the transaction that records its number.
"""

from __future__ import annotations

from guichet.metrics import OTHER_REASON, REASONS
from guichet.pilotage import histogram

REASON_COLUMNS: tuple[str, ...] = tuple(f"r_{r}" for r in (*REASONS, OTHER_REASON))
COUNTERS: tuple[str, ...] = (
    "answers",  # final answers, failed included
    "failed",
    "extractive",
    "covered_known",  # answers whose record says whether the sources covered the question
    "not_covered",
    "ratings",  # rated answers (an answer's first rating counts, later ones do not)
    "up",
    "down",
    *REASON_COLUMNS,  # reasons of thumbs-down ratings
    *histogram.COLUMNS,  # first-token times of done answers
)

_CELLS = ",\n  ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in COUNTERS)
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE analytics_answers (
  id TEXT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, month TEXT NOT NULL, site TEXT NOT NULL,
  audience TEXT NOT NULL, theme TEXT NOT NULL, status TEXT NOT NULL, mode TEXT NOT NULL,
  covered INTEGER, first_token_ms INTEGER NOT NULL, total_ms INTEGER NOT NULL)""",
        """CREATE TABLE analytics_ratings (
  answer_id TEXT PRIMARY KEY, id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, month TEXT NOT NULL,
  site TEXT NOT NULL, theme TEXT NOT NULL, rating TEXT NOT NULL, reasons TEXT NOT NULL)""",
        f"""CREATE TABLE analytics_cells (
  month TEXT NOT NULL, site TEXT NOT NULL, theme TEXT NOT NULL,
  {_CELLS},
  PRIMARY KEY (month, site, theme))""",
        "CREATE INDEX analytics_cells_site ON analytics_cells (site, month)",
    ),
    (  # 2: the same counters without the theme, 14 times fewer rows for the queries that need no theme
        f"""CREATE TABLE analytics_site_months (
  month TEXT NOT NULL, site TEXT NOT NULL,
  {_CELLS},
  PRIMARY KEY (month, site))""",
        f"""INSERT INTO analytics_site_months (month, site, {", ".join(COUNTERS)})
  SELECT month, site, {", ".join(f"SUM({c})" for c in COUNTERS)} FROM analytics_cells GROUP BY month, site""",
    ),
    (  # 3: per month and theme, all sites together: the theme figures of the whole country in ~15 rows
        f"""CREATE TABLE analytics_theme_months (
  month TEXT NOT NULL, theme TEXT NOT NULL,
  {_CELLS},
  PRIMARY KEY (month, theme))""",
        f"""INSERT INTO analytics_theme_months (month, theme, {", ".join(COUNTERS)})
  SELECT month, theme, {", ".join(f"SUM({c})" for c in COUNTERS)}
  FROM analytics_cells GROUP BY month, theme""",
    ),
)
# The tables counters are added to: (table, its key columns), cells first.
ROLLUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("analytics_cells", ("month", "site", "theme")),
    ("analytics_site_months", ("month", "site")),
    ("analytics_theme_months", ("month", "theme")),
)
VERSION_TABLE = "CREATE TABLE IF NOT EXISTS analytics_schema (version INTEGER NOT NULL)"
