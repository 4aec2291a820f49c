"""PDF with ReportLab: a cover (area, month, generation time, digest), the charts, then the tables.

Every glyph is drawn in the embedded CJK font (subset into the file), including the page furniture,
so the document opens the same on a machine with no Chinese fonts at all.
"""

from __future__ import annotations

import io
import math
import threading
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import LongTable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, TableStyle

from service.reports.fonts import registered_font
from service.reports.tables import NUMERIC, Chart, Document, Table, as_text

PAGE = landscape(A4)
MARGIN = 14 * mm
# ReportLab keeps per-document state on shared font objects: one PDF at a time per process.
_building = threading.Lock()


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        "cover": ParagraphStyle("cover", fontName=font, fontSize=30, leading=40, spaceAfter=18),
        "heading": ParagraphStyle("heading", fontName=font, fontSize=14, leading=20, spaceBefore=8, spaceAfter=6),
        "body": ParagraphStyle("body", fontName=font, fontSize=11, leading=17),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=8, leading=10),
    }


def _table(table: Table, font: str, style: ParagraphStyle) -> LongTable:
    # Cells are Paragraphs (they wrap); Paragraph reads markup, so names like "A&B<1>" are escaped.
    header = [Paragraph(escape(c.label), style) for c in table.columns]
    body = [
        [Paragraph(escape(as_text(v, table.kind(r, c), "—")), style) for c, v in enumerate(row)]
        for r, row in enumerate(table.rows)
    ]
    total = sum(c.width for c in table.columns)
    widths = [(PAGE[0] - 2 * MARGIN) * c.width / total for c in table.columns]
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDEBF7")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for c, column in enumerate(table.columns):
        if column.kind in NUMERIC:
            commands.append(("ALIGN", (c, 1), (c, -1), "RIGHT"))
    empty = [Paragraph("（无）", style)] + [""] * (len(header) - 1)
    result = LongTable([header, *(body or [empty])], colWidths=widths, repeatRows=1)
    result.setStyle(TableStyle(commands))
    return result


def _chart(chart: Chart, font: str) -> Drawing:
    bar = 14
    width, height = PAGE[0] - 2 * MARGIN, max(60, bar * len(chart.labels) + 30)
    drawing = Drawing(width, height + 10, initialFontName=font)
    if not chart.labels:
        drawing.add(String(0, 10, "（无数据）", fontName=font, fontSize=10))
        return drawing
    plot = HorizontalBarChart()
    plot.x, plot.y, plot.width, plot.height = 150, 20, width - 190, height - 20
    # Horizontal bars are drawn bottom-up: reverse so the first row (the worst) is on top.
    plot.data = [[v * 100 if chart.percent else v for v in reversed(chart.values)]]
    plot.categoryAxis.categoryNames = list(reversed(chart.labels))
    plot.categoryAxis.labels.fontName = font
    plot.categoryAxis.labels.fontSize = 8
    plot.categoryAxis.labels.boxAnchor = "e"
    plot.valueAxis.labels.fontName = font
    plot.valueAxis.labels.fontSize = 8
    plot.valueAxis.valueMin = 0
    plot.barLabels.fontName = font
    plot.barLabels.fontSize = 7
    plot.barLabels.boxAnchor = "w"
    plot.barLabels.dx = 3
    if chart.percent:
        plot.valueAxis.valueMax = 100
        plot.valueAxis.labelTextFormat = "%d%%"
        plot.barLabelFormat = "%.1f%%"
    else:  # counts: whole-number ticks
        plot.valueAxis.valueStep = max(1, math.ceil(max(chart.values) / 5))
        plot.barLabelFormat = "%d"
    plot.bars[0].fillColor = colors.HexColor("#4472C4")
    drawing.add(plot)
    return drawing


def to_pdf(document: Document, font_path: Path) -> bytes:
    font = registered_font(font_path)
    styles = _styles(font)
    story = [Spacer(1, 40 * mm), Paragraph(escape(document.title), styles["cover"])]
    story += [Paragraph(escape(f"{label}：{value}"), styles["body"]) for label, value in document.cover()[1:]]
    story += [Spacer(1, 6 * mm), *(Paragraph(escape(note), styles["body"]) for note in document.notes), PageBreak()]
    for chart in document.charts:
        story += [Paragraph(escape(chart.title), styles["heading"]), _chart(chart, font)]
    for table in document.tables:
        story += [Paragraph(escape(table.title), styles["heading"]), _table(table, font, styles["cell"])]

    def footer(canvas, doc) -> None:
        canvas.setFont(font, 8)
        canvas.drawString(
            MARGIN,
            8 * mm,
            f"{document.title} · {document.area} · {document.month} · "
            f"SHA-256 {document.sha256[:16]}…  第 {doc.page} 页",
        )

    buffer = io.BytesIO()
    with _building:
        pdf = SimpleDocTemplate(
            buffer,
            pagesize=PAGE,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN,
            bottomMargin=MARGIN + 4 * mm,
            initialFontName=font,
            title=f"{document.title} {document.area} {document.month}",
            author="homecare-dispatch",
        )
        pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
