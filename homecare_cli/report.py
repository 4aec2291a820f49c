"""`homecare report --month YYYY-MM --area CODE --format json|csv|xlsx|pdf -o FILE`: the monthly
supervision summary written to a file, exactly as a regulator downloads it from the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from homecare_cli.context import load_settings, migrate_database, with_sessions

FORMATS = ("json", "csv", "xlsx", "pdf")


def report(
    month: Annotated[str, typer.Option(help="YYYY-MM, the calendar month in Asia/Shanghai")],
    area: Annotated[str, typer.Option(help="Area code: 6 (county), 9 (street) or 12 (community) digits")],
    format: Annotated[str, typer.Option("--format", help="json | csv | xlsx | pdf")] = "json",
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write", dir_okay=False)] = Path("report"),
) -> None:
    """Write an area's monthly supervision summary (监管月报); a closed month's is the signed one."""
    from service.errors import DomainError
    from service.reports.delivery import renderer
    from service.reports.documents import summary_document
    from service.reports.scope import area_by_code
    from service.reports.sql import REPORT_READER
    from service.reports.summary import monthly_summary
    from service.validation import AREA_PATTERN, is_month

    if not is_month(month):
        typer.echo("error: --month must be YYYY-MM", err=True)
        raise typer.Exit(2)
    if not re.match(AREA_PATTERN, area):
        typer.echo("error: --area must be an area code of 6, 9 or 12 digits", err=True)
        raise typer.Exit(2)
    if format not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    migrate_database(settings)

    async def summarise(sessions):
        async with sessions(info={REPORT_READER: True}) as session:  # it only reads: queries side by side
            return await monthly_summary(session, await area_by_code(session, area), month, settings)

    try:
        summary = with_sessions(summarise)
        if format == "json":
            content = summary.model_dump_json(indent=2).encode("utf-8")
        else:
            content = renderer(format, settings)(summary_document(summary))
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1 if exc.status >= 500 else 2) from None
    output.write_bytes(content)
    typer.echo(f"wrote {output} ({format}, {summary.status}, sha256 {summary.sha256})", err=True)
