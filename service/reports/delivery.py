"""A report as a downloadable file: rendered off the event loop, with its type, name and digest."""

from __future__ import annotations

from functools import partial
from typing import Literal

import anyio
from fastapi import Response
from pydantic import BaseModel

from service.reports.as_csv import to_csv
from service.reports.as_pdf import to_pdf
from service.reports.as_xlsx import to_xlsx
from service.reports.fonts import cjk_font_path
from service.reports.tables import Document
from service.settings import Settings

FileFormat = Literal["csv", "xlsx", "pdf"]
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def renderer(fmt: FileFormat, settings: Settings):
    if fmt == "pdf":
        # Looked up before any work is done, so a machine without the font answers 503 at once.
        return partial(to_pdf, font_path=cjk_font_path(settings.report_font))
    return {"csv": to_csv, "xlsx": to_xlsx}[fmt]


async def file_response(document: Document, fmt: FileFormat, stem: str, settings: Settings) -> Response:
    """Rendered in a worker thread: the event loop keeps serving other requests meanwhile. The caller has
    given its database connections back already (lane.py)."""
    render = renderer(fmt, settings)
    content = await anyio.to_thread.run_sync(render, document)
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"', "X-Content-SHA256": document.sha256},
    )


def json_response(report: BaseModel) -> Response:
    """A report as JSON, serialised by pydantic at once: a month's exceptions run to megabytes, and FastAPI's
    way (a dict of JSON-able values, then json.dumps) keeps the event loop twice as long."""
    return Response(report.model_dump_json(), media_type=MEDIA_TYPES["json"])


def file_responses(*formats: str) -> dict:
    """The 200 response's extra media types, for the OpenAPI document."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    content = {MEDIA_TYPES[f].split(";")[0]: binary for f in formats}
    return {200: {"description": "The report, as JSON or as the file `format` asks for", "content": content}}
