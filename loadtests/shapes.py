"""Load shapes as data: stages of (duration, asks/s), turned into Locust users.

An advisor user starts one visit every PACING_S seconds at its own phase (locustfile), so `rate` asks/s need
rate × PACING_S users: the arrival rate holds whatever the latency, as long as an answer (read to its
end, plus a possible related question) takes less than PACING_S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PACING_S = 30.0
# Hourly traffic of a France services day (9:00–17:00), relative to the mean hour: a morning peak, a lull
# at lunch, a smaller afternoon peak. Its mean is 1; its maximum is the model's peak-hour factor (2.0).
DAY_PROFILE = (1.2, 2.0, 1.4, 0.4, 0.6, 1.1, 0.9, 0.4)


@dataclass(frozen=True)
class Stage:
    seconds: float
    rate: float  # asks/s


def users_for(rate: float, pacing_s: float = PACING_S, asks_per_visit: float = 1.0) -> int:
    """Advisors needed for `rate` asks/s when each asks `asks_per_visit` questions per pacing period."""
    return max(1, math.ceil(rate * pacing_s / asks_per_visit))


def constant(rate: float, seconds: float) -> list[Stage]:
    """The model's peak held for `seconds`."""
    return [Stage(seconds, rate)]


def spike(rate: float, seconds: float, factor: float = 3.0) -> list[Stage]:
    """A third at the peak, a third at factor × peak, a third back at the peak."""
    third = seconds / 3
    return [Stage(third, rate), Stage(third, rate * factor), Stage(third, rate)]


def business_day(peak_rate: float, seconds: float) -> list[Stage]:
    """A working day compressed into `seconds`: one stage per opening hour, its busiest hour at
    `peak_rate` (the model's peak), the others in DAY_PROFILE's proportions."""
    hour = seconds / len(DAY_PROFILE)
    return [Stage(hour, peak_rate * share / max(DAY_PROFILE)) for share in DAY_PROFILE]


def plan(name: str, rate: float, seconds: float) -> list[Stage]:
    shapes = {"peak": constant, "spike": spike, "day": business_day}
    if name not in shapes:
        raise ValueError(f"forme de charge inconnue : {name} (peak, spike ou day)")
    return shapes[name](rate, seconds)


def tick(
    stages: list[Stage], elapsed: float, pacing_s: float = PACING_S, asks_per_visit: float = 1.0
) -> tuple[int, float] | None:
    """(users, spawn rate) at `elapsed` seconds; None once the plan is over (Locust then stops)."""
    end = 0.0
    for stage in stages:
        end += stage.seconds
        if elapsed < end:
            users = users_for(stage.rate, pacing_s, asks_per_visit)
            # Users start within a second; each then waits a random part of its pacing before its first
            # ask (locustfile), so that arrivals are spread instead of bunched at each stage change.
            return users, float(max(1, users))
    return None
