"""What the conformance run found: each distinct failure once, with the smallest request that shows it."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from schemathesis.core.failures import FailureGroup


@dataclass
class Found:
    item: str  # the pytest node id: operation and backend
    role: str
    operation: str
    check: str
    status: int | None
    message: str
    request: str

    @property
    def key(self) -> tuple:
        # One failure per kind of message, not per value that triggered it (ids, field paths, row numbers).
        shape = re.sub(r"\d+", "N", _first_line(self.message))[:160]
        return self.item, self.role, self.check, self.status, shape

    def __str__(self) -> str:
        return f"{self.role}: {self.check} ({self.status}): {_first_line(self.message)[:200]}\n    {self.request}"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


class Recorder:
    def __init__(self) -> None:
        self.found: dict[tuple, Found] = {}
        self.cases: Counter[str] = Counter()  # per item
        self.requests: Counter[str] = Counter()  # per role
        self.statuses: Counter[str] = Counter()  # "METHOD /path role status"

    def record(self, group: FailureGroup, *, item: str, role: str, case, status: int | None) -> None:
        for failure in group.exceptions:
            checks = getattr(type(failure), "checks", ())
            message = "\n".join(filter(None, [failure.title, failure.message]))
            self._add(
                Found(
                    item,
                    role,
                    case.operation.label,
                    checks[0] if checks else failure.title,
                    status,
                    message,
                    reproduce(case),
                )
            )

    def crashed(self, exc: Exception, *, item: str, role: str, case) -> None:
        """An exception the app did not handle: a client over HTTP got a 500 for it."""
        self._add(
            Found(
                item,
                role,
                case.operation.label,
                "not_a_server_error",
                500,
                f"Unhandled {type(exc).__name__}: {exc}",
                reproduce(case),
            )
        )

    def _add(self, found: Found) -> None:
        known = self.found.get(found.key)
        if known is None or len(found.request) < len(known.request):
            self.found[found.key] = found

    def of(self, item: str) -> list[Found]:
        return [f for f in self.found.values() if f.item == item]

    def dump(self, path: str) -> None:
        with open(path + ".statuses.json", "w", encoding="utf-8") as out:
            json.dump(dict(sorted(self.statuses.items())), out, indent=0)
        with open(path, "w", encoding="utf-8") as out:
            ordered = sorted(self.found.values(), key=lambda f: (f.operation, f.role, f.check))
            out.writelines(json.dumps(asdict(found), ensure_ascii=False) + "\n" for found in ordered)


def reproduce(case) -> str:
    """The request on one line, as sent (the role's token left out)."""
    kwargs = case.as_transport_kwargs(base_url="")
    line = f"{kwargs['method']} {kwargs['url']}"
    if kwargs.get("params"):
        line += "?" + urlencode(kwargs["params"], doseq=True)
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    if headers:
        line += f" headers={json.dumps(headers, ensure_ascii=False)}"
    if kwargs.get("json") is not None:
        line += " json=" + json.dumps(kwargs["json"], ensure_ascii=False)
    elif kwargs.get("data") is not None:
        line += f" data={kwargs['data']!r:.300}"
    return line
