"""Console users and a logged-in browser, for the console's tests (httpx and Playwright alike)."""

from __future__ import annotations

import re

from service.users.service import create_user

PASSWORD = "correct-horse-9"
CSRF = re.compile(r'name="csrf" value="([^"]*)"')


async def make_user(db, username: str, role: str, area_code: str | None = None, password: str = PASSWORD) -> int:
    async with db() as session:
        user = await create_user(
            session,
            username=username,
            password=password,
            role=role,
            area_code=area_code,
            display_name=username,
            actor="test",
        )
        await session.commit()  # services never commit: the caller does
        return user.id


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def log_in(client, username: str, password: str = PASSWORD):
    """Log in through the form as a browser does; returns the answer to the login POST."""
    client.cookies.clear()
    page = await client.get("/login")
    return await client.post("/login", data={"username": username, "password": password, "csrf": csrf_of(page.text)})


async def csrf(client, path: str = "/console/seat") -> str:
    return csrf_of((await client.get(path)).text)
