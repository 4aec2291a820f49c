"""Scratch PostgreSQL databases for the benchmarks and the test suite, on the local server."""

from __future__ import annotations

import asyncpg

SERVER = "postgresql://postgres@127.0.0.1:5432"


async def recreate_database(name: str, *, drop_only: bool = False, server: str = SERVER) -> str:
    """Drop `name` (closing its connections) and, unless drop_only, create it empty; its asyncpg DSN."""
    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return f"{server}/{name}"
