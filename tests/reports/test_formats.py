"""The monthly summary as CSV, XLSX and PDF: the same numbers, in Chinese, opening in the usual tools."""

from __future__ import annotations

import csv
import io

import openpyxl
import pypdf

from service.reports.as_csv import guard
from service.settings import Settings
from tests.reports.month import MONTH, build_october

MONTHLY = "/api/v1/reports/monthly"


async def download(client, headers, fmt: str, path: str = MONTHLY, **params):
    response = await client.get(
        path, params={"month": MONTH, "area": "530111", "format": fmt, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response


def test_guard_defuses_formula_starts_only():
    assert [guard(t) for t in ("=SUM(A1)", "+86", "-1", "@cmd", "\tx", "张桂英", "1-2")] == [
        "'=SUM(A1)",
        "'+86",
        "'-1",
        "'@cmd",
        "'\tx",
        "张桂英",
        "1-2",
    ]


async def test_csv_has_a_bom_chinese_headers_and_defused_cells(client, token, db):
    await build_october(db)
    admin = await token("admin")
    response = await download(client, admin, "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="monthly-530111-2026-10.csv"' in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["报告", "监管月报"] and ["地区", "官渡区"] in rows
    json_summary = (await client.get(MONTHLY, params={"month": MONTH, "area": "530111"}, headers=admin)).json()
    assert ["SHA-256", json_summary["sha256"]] in rows
    assert ["老年人", "覆盖率", "25.00%"] in rows and ["服务时长", "中位数(分钟)", "63.5"] in rows
    header = rows.index(["街道代码", "街道", "应服务老人", "已服务老人", "覆盖率"])
    assert rows[header + 1] == ["530111002", "太和街道", "2", "0", "0.00%"]
    change = {r[0]: r for r in rows if r and r[0] == "计划完成率"}
    assert change["计划完成率"] == ["计划完成率", "83.33%", "100.00%", "-16.67%"]  # a negative number stays a number

    exceptions = await download(client, admin, "csv", path="/api/v1/reports/exceptions")
    text = exceptions.content.decode("utf-8-sig")
    assert exceptions.content.startswith(b"\xef\xbb\xbf") and "'=cmd()" in text and ",=cmd()" not in text


async def test_xlsx_reads_back_to_the_same_numbers(client, token, db):
    await build_october(db)
    admin = await token("admin")
    s = (await client.get(MONTHLY, params={"month": MONTH, "area": "530111"}, headers=admin)).json()
    book = openpyxl.load_workbook(io.BytesIO((await download(client, admin, "xlsx")).content))
    assert book.sheetnames == ["封面", "概况", "异常类型", "服务机构", "街道覆盖", "老人类别", "环比", "更正"]
    cover = {row[0]: row[1] for row in book["封面"].iter_rows(values_only=True) if row[0]}
    assert cover["地区"] == "官渡区" and cover["月份"] == MONTH and cover["SHA-256"] == s["sha256"]

    overview = book["概况"]
    assert overview.freeze_panes == "A2" and [c.value for c in overview[1]] == ["类别", "指标", "数值"]
    values = {row[1].value: row[2] for row in overview.iter_rows(min_row=2)}
    assert values["应服务老人"].value == 4 and values["覆盖率"].value == 0.25
    assert values["覆盖率"].number_format == "0.00%" and values["核验通过率"].value == 0.6667
    assert values["中位数(分钟)"].value == 63.5 and values["平均满意度"].value == 3.67

    providers = book["服务机构"]
    assert providers.freeze_panes == "A2"
    rows = list(providers.iter_rows(min_row=2, values_only=True))
    assert [(r[1], r[2], r[3], r[4], r[8]) for r in rows] == [
        (p["name"], p["visits"], p["verified"], p["verified_rate"], p["quota_use_rate"]) for p in s["providers"]
    ]
    assert providers["E2"].number_format == "0.00%"
    streets = list(book["街道覆盖"].iter_rows(min_row=2, values_only=True))
    assert streets == [(r["code"], r["name"], r["entitled"], r["served"], r["coverage_rate"]) for r in s["streets"]]


async def test_xlsx_never_turns_text_into_formulas(client, token, db):
    await build_october(db)
    response = await download(client, await token("admin"), "xlsx", path="/api/v1/reports/settlement")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert {"机构合计", "结算明细", "补结算"} <= set(book.sheetnames)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            assert all(cell.data_type != "f" for cell in row)


def _fonts(reader: pypdf.PdfReader) -> list[dict]:
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            fonts.append(
                {
                    "name": font["/BaseFont"],
                    "embedded": descriptor is not None
                    and any(key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")),
                }
            )
    return fonts


async def test_pdf_embeds_its_cjk_font_and_its_chinese_text_extracts(client, token, db):
    await build_october(db)
    admin = await token("admin")
    s = (await client.get(MONTHLY, params={"month": MONTH, "area": "530111"}, headers=admin)).json()
    response = await download(client, admin, "pdf")
    assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    fonts = _fonts(reader)
    assert fonts and all(f["embedded"] for f in fonts), fonts  # not even Helvetica left to the reader
    cover = reader.pages[0].extract_text()
    assert "监管月报" in cover and "官渡区" in cover and "2026-10" in cover and "生成时间" in cover
    assert s["sha256"] in cover
    text = "".join(page.extract_text() for page in reader.pages)
    for words in (
        "各街道覆盖率",
        "各服务机构异常上门",
        "太和街道",
        "关上街道",
        "覆盖率",
        "康乐养老",
        "新苗护理",
        "签到位置不符",
        "与上月比较",
        "25.00%",
    ):
        assert words in text, words


async def test_pdf_without_a_font_is_a_clear_503(app, client, token, db, monkeypatch):
    await build_october(db)
    admin = await token("admin")
    pdf = {"month": MONTH, "area": "530111", "format": "pdf"}
    original = app.state.settings
    try:
        app.state.settings = Settings(database_url=original.database_url, report_font="/nonexistent/font.ttc")
        response = await client.get(MONTHLY, params=pdf, headers=admin)
        assert response.status_code == 503 and "HOMECARE_REPORT_FONT" in response.json()["detail"]
        app.state.settings = original
        monkeypatch.setattr("service.reports.fonts.CANDIDATES", ())
        response = await client.get(MONTHLY, params=pdf, headers=admin)
        assert response.status_code == 503 and "fonts-wqy-microhei" in response.json()["detail"]
    finally:
        app.state.settings = original
