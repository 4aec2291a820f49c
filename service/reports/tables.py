"""A report as the file formats see it: a cover, titled tables with Chinese headers, and charts.

The JSON documents are turned into this shape once (documents.py); CSV, XLSX and PDF each render
it, so a figure has one label and one number format whatever file it lands in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

Kind = Literal["text", "int", "number", "percent", "money", "by_row"]
NUMERIC = ("int", "number", "percent", "money")


@dataclass(frozen=True)
class Column:
    label: str
    kind: Kind = "text"
    width: float = 1.0  # relative, for the PDF's column widths


@dataclass(frozen=True)
class Table:
    sheet: str  # an XLSX sheet name: at most 31 characters, none of []:*?/\
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple]
    row_kinds: tuple[Kind, ...] = ()  # for a "by_row" column: each row's own kind

    def kind(self, row: int, column: int) -> Kind:
        kind = self.columns[column].kind
        return self.row_kinds[row] if kind == "by_row" else kind


@dataclass(frozen=True)
class Chart:
    title: str
    labels: list[str]
    values: list[float]
    percent: bool = False


@dataclass(frozen=True)
class Document:
    title: str
    area: str
    month: str
    generated_at: datetime
    status: str
    sha256: str
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cover(self) -> list[tuple[str, str]]:
        return [
            ("报告", self.title),
            ("地区", self.area),
            ("月份", self.month),
            ("生成时间", local_time(self.generated_at) + " (北京时间)"),
            ("状态", self.status),
            ("SHA-256", self.sha256),
        ]


def local_time(moment: datetime | None) -> str:
    """Already converted to Asia/Shanghai by the report; shown to the minute."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def as_text(value, kind: Kind, empty: str = "") -> str:
    """A cell as people read it (CSV, PDF); XLSX keeps numbers as numbers instead."""
    if value is None:
        return empty
    if kind == "percent":
        return f"{float(value) * 100:.2f}%"
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "number":  # as precise as the JSON, without trailing zeros: 63.5, 3.67, 35
        return f"{float(value):.2f}".rstrip("0").rstrip(".")
    if kind == "int":
        return str(int(value))
    return str(value)
