"""`homecare areas import FILE`: the real administrative division codes (行政区划代码) of a deployment.

A production database starts without the demo seed; its area tree comes from the civil-affairs bureau's
list, as CSV (a header row `code,name,level,parent`; UTF-8, with or without Excel's BOM) or JSON (a list of
objects with those keys). Every row is checked before anything is written — code digits for its level, a
parent one level up whose code is the child's prefix, a name — and each problem is one line naming the row.
Importing is idempotent: codes already present are left alone (or renamed, when the file renames them);
an area's level or parent never changes, since elders, providers and tokens hang from it.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.areas.models import Area
from service.audit.service import record_change
from service.catalogue import AREA_LEVELS

DIGITS = {"city": 6, "county": 6, "street": 9, "community": 12}
PARENT_LEVEL = {"county": "city", "street": "county", "community": "street"}
COLUMNS = ("code", "name", "level", "parent")
MAX_ERRORS = 20  # beyond this many the rest of the file is not worth reading line by line


class AreaFileError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AreaRow:
    where: str  # "line 7" or "item 7", for messages
    code: str
    name: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class ImportReport:
    read: int
    added: int
    renamed: int
    unchanged: int


def parse_areas(data: bytes) -> list[AreaRow]:
    """The file's rows, each checked on its own; AreaFileError lists every problem found."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AreaFileError([f"the file is not UTF-8 text (byte {exc.start})"]) from None
    records = _json_records(text) if text.lstrip().startswith(("[", "{")) else _csv_records(text)
    rows, problems = [], []
    for where, record in records:
        row, problem = _row(where, record)
        if problem:
            problems.append(problem)
        else:
            rows.append(row)
    if not records:
        problems.append("the file lists no areas")
    if problems:
        raise AreaFileError(problems[:MAX_ERRORS])
    return rows


def _json_records(text: str) -> list[tuple[str, dict]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreaFileError([f"not valid JSON: {exc.msg} (line {exc.lineno})"]) from None
    items = document.get("areas") if isinstance(document, dict) else document
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise AreaFileError(['JSON must be a list of {"code", "name", "level", "parent"} objects'])
    return [(f"item {number}", item) for number, item in enumerate(items, start=1)]


def _csv_records(text: str) -> list[tuple[str, dict]]:
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    header = ["parent" if cell == "parent_code" else cell for cell in header]
    missing = [column for column in COLUMNS[:3] if column not in header]
    if missing:
        raise AreaFileError(
            [(f"line 1: the header must name the columns {','.join(COLUMNS)}; missing {','.join(missing)}")]
        )
    records = []
    for cells in reader:
        if any(cell.strip() for cell in cells):
            records.append((f"line {reader.line_num}", dict(zip(header, cells, strict=False))))
    return records


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _row(where: str, record: dict) -> tuple[AreaRow | None, str | None]:
    code, name, level, parent = (_text(record.get(key)) for key in COLUMNS)
    if level not in AREA_LEVELS:
        return None, f"{where}: level: must be one of {', '.join(AREA_LEVELS)}, not {level!r}"
    if not (code.isascii() and code.isdigit() and len(code) == DIGITS[level]):
        return None, f"{where}: code: a {level} code is {DIGITS[level]} digits, not {code!r}"
    if not name or len(name) > 100 or any(unicodedata.category(c) == "Cc" for c in name):
        return None, f"{where}: name: 1 to 100 characters, no control characters"
    if level == "city" and parent:
        return None, f"{where}: parent: a city has none"
    if level in ("street", "community") and not parent:
        return None, f"{where}: parent: a {level} needs its {PARENT_LEVEL[level]}'s code"
    if parent:
        expected = code[:4] + "00" if level == "county" else code[: DIGITS[PARENT_LEVEL[level]]]
        if parent != expected:
            return None, f"{where}: parent: the {PARENT_LEVEL[level]} of {code} is {expected}, not {parent}"
    return AreaRow(where, code, name, level, parent or None), None


async def import_areas(session: AsyncSession, rows: list[AreaRow], *, actor: str = "cli") -> ImportReport:
    """Add the new areas and rename the renamed ones in one transaction, after checking the tree whole."""
    codes = {row.code for row in rows} | {row.parent for row in rows if row.parent}
    existing = {a.code: a for a in (await session.exec(select(Area).where(col(Area.code).in_(codes)))).all()}
    problems = _tree_problems(rows, existing)
    if problems:
        raise AreaFileError(problems[:MAX_ERRORS])
    added, renamed = [], []
    for row in sorted(rows, key=lambda r: len(r.code)):  # parents before their children
        area = existing.get(row.code)
        if area is None:
            added.append(Area(code=row.code, name=row.name, level=row.level, parent_code=row.parent))
        elif area.name != row.name:
            renamed.append({"code": row.code, "from": area.name, "to": row.name})
            area.name = row.name
            session.add(area)
    session.add_all(added)  # inserted in this order: every parent before its children
    if added or renamed:
        record_change(
            session,
            actor=actor,
            action="areas.import",
            entity="area",
            entity_id="import",
            after={"added": len(added), "renamed": renamed},
        )
    return ImportReport(len(rows), len(added), len(renamed), len(rows) - len(added) - len(renamed))


def _tree_problems(rows: list[AreaRow], existing: dict[str, Area]) -> list[str]:
    problems, in_file = [], {}
    for row in rows:
        if row.code in in_file:
            problems.append(f"{row.where}: code: {row.code} is listed twice (also {in_file[row.code].where})")
        in_file.setdefault(row.code, row)
    for row in rows:
        known = existing.get(row.code)
        if known is not None and (known.level, known.parent_code) != (row.level, row.parent):
            problems.append(
                f"{row.where}: code: {row.code} exists as a {known.level} under "
                f"{known.parent_code or 'no parent'}; an area's level and parent do not change"
            )
        if row.parent and row.parent not in in_file and row.parent not in existing:
            problems.append(f"{row.where}: parent: {row.parent} is neither in the file nor in the database")
        parent = in_file.get(row.parent) or existing.get(row.parent)
        if parent is not None and parent.level != PARENT_LEVEL[row.level]:
            problems.append(f"{row.where}: parent: {row.parent} is a {parent.level}, not a {PARENT_LEVEL[row.level]}")
    return problems
