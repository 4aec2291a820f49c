"""CSV for Excel in China: UTF-8 with a BOM (or Excel guesses GBK and shows mojibake), formulas defused.

A cell that starts with =, +, -, @ (or a tab or carriage return) would be run as a formula when the
file is opened; such text gets a leading apostrophe. Numbers are written as numbers, so a negative
change (-3) stays a number.
"""

from __future__ import annotations

import csv
import io

from service.reports.tables import NUMERIC, Document, as_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guard(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(document: Document) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for label, value in document.cover():
        writer.writerow([guard(label), guard(value)])
    for note in document.notes:
        writer.writerow([guard(note)])
    for table in document.tables:
        writer.writerow([])
        writer.writerow([guard(table.title)])
        writer.writerow([guard(column.label) for column in table.columns])
        for r, row in enumerate(table.rows):
            cells = []
            for c, value in enumerate(row):
                kind = table.kind(r, c)
                text = as_text(value, kind)
                cells.append(text if kind in NUMERIC else guard(text))
            writer.writerow(cells)
    return buffer.getvalue().encode("utf-8-sig")
