"""Charts as SVG drawn on the server: horizontal bars with their labels and values. No script, no library,
nothing fetched; the browser draws them as it draws text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

ROW, LABEL_W, VALUE_W, WIDTH = 22, 150, 70, 560


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str  # the value as shown
    colour: str = "#2f6fb0"


def bars(items: Sequence[Bar], *, scale: float | None = None, title: str = "") -> Markup:
    """One bar per item; `scale` is the value of a full bar (1.0 for rates), else the largest value."""
    if not items:
        return Markup('<p class="muted">无数据</p>')
    top = scale or max((b.value or 0 for b in items), default=0) or 1
    span = WIDTH - LABEL_W - VALUE_W
    height = ROW * len(items) + 6
    parts = [
        (
            f'<svg role="img" aria-label="{escape(title)}" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
        )
    ]
    for i, b in enumerate(items):
        y = i * ROW + 3
        length = 0 if b.value is None else max(1.0, span * min(b.value / top, 1.0)) if b.value > 0 else 0
        label = b.label if len(b.label) <= 11 else b.label[:10] + "…"
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_W}" y="{y + 2}" width="{length:.1f}" height="{ROW - 6}" fill="{b.colour}"/>'
            f'<text x="{LABEL_W + length + 4:.1f}" y="{y + 14}">{escape(b.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def rate_colour(value: float | None, good: float = 0.9, fair: float = 0.7) -> str:
    if value is None:
        return "#9aa5b1"
    return "#2f8f4e" if value >= good else "#d08b00" if value >= fair else "#b42318"


def summary_charts(summary: dict) -> dict[str, Markup]:
    """The desk's charts from the summary's JSON (the same figures as GET /reports/monthly)."""
    v, e, em = summary["visits"], summary["elders"], summary["emergencies"]
    return {
        "rates": bars(
            [
                Bar(
                    "覆盖率（已服务/应服务）",
                    e["coverage_rate"],
                    rate(e["coverage_rate"]),
                    rate_colour(e["coverage_rate"]),
                ),
                Bar("核验通过率", v["verified_rate"], rate(v["verified_rate"]), rate_colour(v["verified_rate"])),
                Bar("计划完成率", v["completion_rate"], rate(v["completion_rate"]), rate_colour(v["completion_rate"])),
            ],
            scale=1.0,
            title="覆盖率与核验率",
        ),
        "exceptions": bars(
            [Bar(c["label"], c["visits"], str(c["visits"]), "#b42318") for c in summary["exceptions"]["by_code"]],
            title="异常（按类型）",
        ),
        "response": bars(
            [
                Bar(
                    "应急响应 中位数",
                    em["response_p50_minutes"],
                    "—" if em["response_p50_minutes"] is None else f"{em['response_p50_minutes']:.0f} 分钟",
                ),
                Bar(
                    "应急响应 90%",
                    em["response_p90_minutes"],
                    "—" if em["response_p90_minutes"] is None else f"{em['response_p90_minutes']:.0f} 分钟",
                ),
            ],
            title="应急响应时间",
        ),
        "providers": bars(
            [
                Bar(
                    p["name"],
                    p["verified_rate"],
                    f"{rate(p['verified_rate'])}（{p['visits']} 次）",
                    rate_colour(p["verified_rate"]),
                )
                for p in summary["providers"]
            ],
            scale=1.0,
            title="服务商核验通过率",
        ),
        "streets": bars(
            [
                Bar(
                    s["name"],
                    s["coverage_rate"],
                    f"{rate(s['coverage_rate'])}（{s['served']}/{s['entitled']}）",
                    rate_colour(s["coverage_rate"]),
                )
                for s in summary["streets"][:20]
            ],
            scale=1.0,
            title="街道覆盖率（最差在前）",
        ),
    }
