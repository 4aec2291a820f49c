"""XLSX with XlsxWriter: a cover sheet, then one sheet per table with Chinese headers, the header row
frozen, numbers stored as numbers with number, percent and money formats.

Text is always written with write_string: XlsxWriter's write() would turn "=..." into a formula.
"""

from __future__ import annotations

import io
from decimal import Decimal

import xlsxwriter

from service.reports.tables import NUMERIC, Document

NUMBER_FORMATS = {"int": "#,##0", "number": "0.0#", "percent": "0.00%", "money": "#,##0.00"}


def _width(label: str, values: list) -> float:
    # CJK characters take about two Latin widths in Excel's default font.
    longest = max([len(str(v)) for v in values[:200] if v is not None] + [len(label) * 2, 8])
    return min(longest + 2, 60)


def to_xlsx(document: Document) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    formats = {kind: workbook.add_format({"num_format": spec}) for kind, spec in NUMBER_FORMATS.items()}
    cover = workbook.add_worksheet("封面")
    cover.set_column(0, 0, 12)
    cover.set_column(1, 1, 70)
    for r, (label, value) in enumerate(document.cover()):
        cover.write_string(r, 0, label, header)
        cover.write_string(r, 1, value)
    for r, note in enumerate(document.notes, start=len(document.cover()) + 1):
        cover.write_string(r, 0, note)
    for table in document.tables:
        sheet = workbook.add_worksheet(table.sheet)
        for c, column in enumerate(table.columns):
            sheet.write_string(0, c, column.label, header)
            sheet.set_column(c, c, _width(column.label, [row[c] for row in table.rows]))
        sheet.freeze_panes(1, 0)
        for r, row in enumerate(table.rows, start=1):
            for c, value in enumerate(row):
                kind = table.kind(r - 1, c)
                if value is None:
                    sheet.write_blank(r, c, None)
                elif kind in NUMERIC:
                    number = float(value) if isinstance(value, Decimal) else value
                    sheet.write_number(r, c, number, formats[kind])
                else:
                    sheet.write_string(r, c, str(value))
    workbook.close()
    return buffer.getvalue()
