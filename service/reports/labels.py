"""Chinese words for the documents regulators sign: exception codes, statuses and figures."""

from __future__ import annotations

from service.catalogue import SERVICES

EXCEPTION_LABELS = {
    "short_duration": "服务时长不足",
    "off_site": "签到位置不符",
    "outside_window": "超出服务时段",
    "overlap": "护理员时间重叠",
    "impossible_travel": "行程时间不可能",
    "missing_check_out": "未签退",
}

VISIT_STATUS_LABELS = {"verified": "核验通过", "exception": "异常", "in_progress": "服务中"}
AMENDMENT_KIND_LABELS = {"visit": "上门记录", "follow_up": "回访"}
STATUS_LABELS = {"open": "未关账", "closed": "已关账"}


def exception_label(code: str) -> str:
    return EXCEPTION_LABELS.get(code, code)


def service_label(code: str) -> str:
    return SERVICES.get(code, code)


# The month-on-month comparison: (dotted path in the summary, label, number kind).
HEADLINE = (
    ("elders.served", "已服务老人", "int"),
    ("elders.coverage_rate", "覆盖率", "percent"),
    ("visits.verified", "核验通过上门", "int"),
    ("visits.completion_rate", "计划完成率", "percent"),
    ("visits.verified_rate", "核验通过率", "percent"),
    ("exceptions.total", "异常上门", "int"),
    ("visits.missed", "漏服", "int"),
    ("duration.median_minutes", "服务时长中位数(分钟)", "number"),
    ("emergencies.response_p50_minutes", "紧急响应中位数(分钟)", "number"),
    ("follow_ups.mean_satisfaction", "平均满意度", "number"),
    ("follow_ups.complaints", "投诉", "int"),
)
HEADLINE_KINDS = {path: kind for path, _, kind in HEADLINE}
