"""Runtime profiles: what an action needs to run, declared once per action (`Action.profile`).

A profile names the queue its jobs are sent to; the template gives each queue its own executor
function (memory, timeout, layers). So an action that needs heavy libraries (numpy, pvlib,
shapely) runs in a function that carries them, and the light functions keep their cold start and
size. Adding a profile: declare it here, and give the template its queue (with a dead-letter queue
drained by ReconcilerFunction), its executor and the queue URL variable
(tests/integration/test_template.py checks that they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PROFILE", "PROFILES", "Profile", "profile_of"]


@dataclass(frozen=True)
class Profile:
    name: str
    queue_variable: str
    """The environment variable holding the URL of the queue its jobs are sent to."""
    executor: str
    """The template's function that runs its jobs (fed by that queue)."""


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        # 512 MB, 300 s, the jobs layer only.
        Profile("standard", "JOBS_QUEUE_URL", "ExecutorFunction"),
        # 2048 MB, 900 s, the jobs layer and the science layer (layers/science: pvlib, shapely).
        Profile("science", "SCIENCE_QUEUE_URL", "ScienceExecutorFunction"),
    )
}
DEFAULT_PROFILE = "standard"


def profile_of(name: str) -> Profile:
    profile = PROFILES.get(name)
    if profile is None:
        raise ValueError(f"unknown runtime profile {name!r}; profiles: {', '.join(sorted(PROFILES))}")
    return profile
