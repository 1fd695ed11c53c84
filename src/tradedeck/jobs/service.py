"""The scheduler as the faces see it: job status for readers, manual runs for admins.

The scheduler itself knows nothing of users; this thin layer carries the permission
checks so the REST API and any other face ask the same question the same way.
"""

from __future__ import annotations

from tradedeck.domain.roles import Actor, Permission
from tradedeck.jobs.scheduler import JobStatus, Scheduler

RUN_PERMISSION = Permission.MANAGE_JOBS
"""Running a job by hand is operational control, granted to admins only."""


class JobsService:
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def status(self, actor: Actor) -> list[JobStatus]:
        actor.require(Permission.READ)
        return self.scheduler.status()

    async def run(self, actor: Actor, name: str, *, wait: bool = False) -> JobStatus:
        actor.require(RUN_PERMISSION)
        return await self.scheduler.run_now(name, wait=wait)
