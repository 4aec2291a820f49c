"""The console's routes and static files, mounted into the app by `install_console`."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service.console import admin, desk, login, seat
from service.console.web import HERE


def install_console(app: FastAPI) -> None:
    for router in (login.router, seat.router, desk.router, admin.router):
        app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
