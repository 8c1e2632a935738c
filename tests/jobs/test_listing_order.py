"""Listing oldest first (the OpenAI dialect's `order=asc`), with the keyset cursor, on every backend."""

from __future__ import annotations

from stillmotion.jobs import Database, JobFilter

from .support import new_job


def test_oldest_first_pages_forward_from_the_cursor(db: Database) -> None:
    made = [db.jobs.create(new_job(owner="o")) for _ in range(5)]
    db.jobs.create(new_job(owner="someone-else"))
    pages: list[list[str]] = []
    after = None
    while page := db.jobs.list("o", JobFilter(after=after, oldest_first=True), 2):
        pages.append([j.id for j in page])
        after = (page[-1].created_at, page[-1].id)
    assert sum(pages, []) == [j.id for j in made] and [len(p) for p in pages] == [2, 2, 1]
    middle = (made[2].created_at, made[2].id)
    assert [j.id for j in db.jobs.list("o", JobFilter(after=middle), 10)] == [made[1].id, made[0].id]
    assert [j.id for j in db.jobs.list("o", JobFilter(after=middle, oldest_first=True), 10)] == [
        made[3].id, made[4].id]
