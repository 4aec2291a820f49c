"""An API process that raises an alert and then hangs before answering, until it is killed.

    python -m tests.service.hanging_api PORT    (HOMECARE_DATABASE_URL from the environment)

For test_keys_after_a_crash.py: prints "hung" once a keyed POST /alerts has done its work, uncommitted.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from service.app import create_app
from service.requests import service
from service.settings import Settings

raise_alert = service.raise_alert


async def raise_then_hang(*args, **kwargs):
    await raise_alert(*args, **kwargs)
    print("hung", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    service.raise_alert = raise_then_hang
    app = create_app(Settings(scheduler_enabled=False, log_level="WARNING"))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
