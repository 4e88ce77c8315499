"""How far behind background work is: the oldest piece of work that is due and not done.

Read by `/ready` in the system context (platform maintenance: the backlog of every tenant),
one statement: the earliest due time over pending job runs and due process jobs with
retries left. Work that failed for good (an incident) is not backlog: it waits for an
operator, not for a worker.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.background import PENDING, JobRun
from app.models.runtime import Job


async def oldest_due(session: AsyncSession) -> datetime | None:
    now = func.now()
    due = union_all(
        select(func.min(JobRun.due_at).label("due")).where(
            JobRun.status == PENDING, JobRun.due_at <= now
        ),
        select(func.min(func.coalesce(Job.due_date, Job.created_at)).label("due")).where(
            Job.retries > 0,
            Job.suspended.is_(False),
            or_(Job.due_date.is_(None), Job.due_date <= now),
        ),
    ).subquery()
    oldest: datetime | None = await session.scalar(select(func.min(due.c.due)))
    return oldest
