"""The JSON reports laid out as documents for the file formats, in Chinese."""

from __future__ import annotations

from service.reports.labels import (
    AMENDMENT_KIND_LABELS,
    HEADLINE_KINDS,
    STATUS_LABELS,
    VISIT_STATUS_LABELS,
    exception_label,
)
from service.reports.schemas import MonthlySummary
from service.reports.settlement import SettlementReport
from service.reports.tables import Chart, Column, Document, Table, local_time
from service.reports.visit_exceptions import ExceptionsReport

MAX_CHART_BARS = 30
NOTE_SHA = "SHA-256 为本报告内容（不含生成时间）的规范 JSON 摘要，可用于核对转发件是否被改动。"


def _overview(s: MonthlySummary) -> Table:
    rows = [
        ("老年人", "应服务老人", s.elders.entitled, "int"),
        ("老年人", "已服务老人", s.elders.served, "int"),
        ("老年人", "覆盖率", s.elders.coverage_rate, "percent"),
        ("上门", "应上门次数", s.visits.entitled, "int"),
        ("上门", "计划上门", s.visits.planned, "int"),
        ("上门", "计划上门已完成", s.visits.planned_completed, "int"),
        ("上门", "计划完成率", s.visits.completion_rate, "percent"),
        ("上门", "完成上门(已签退)", s.visits.completed, "int"),
        ("上门", "核验通过", s.visits.verified, "int"),
        ("上门", "核验通过率", s.visits.verified_rate, "percent"),
        ("上门", "漏服", s.visits.missed, "int"),
        ("上门", "临时工单(来电、报警)", s.visits.ad_hoc_requests, "int"),
        ("异常", "异常上门", s.exceptions.total, "int"),
        ("服务时长", "计时上门", s.duration.timed_visits, "int"),
        ("服务时长", "中位数(分钟)", s.duration.median_minutes, "number"),
        ("服务时长", "平均(分钟)", s.duration.mean_minutes, "number"),
        ("服务时长", "不少于60分钟占比", s.duration.share_at_least_60, "percent"),
        ("紧急求助", "紧急求助", s.emergencies.requests, "int"),
        ("紧急求助", "已响应", s.emergencies.answered, "int"),
        ("紧急求助", "响应时间P50(分钟)", s.emergencies.response_p50_minutes, "number"),
        ("紧急求助", "响应时间P90(分钟)", s.emergencies.response_p90_minutes, "number"),
        ("回访", "回访数", s.follow_ups.count, "int"),
        ("回访", "平均满意度", s.follow_ups.mean_satisfaction, "number"),
        ("回访", "投诉", s.follow_ups.complaints, "int"),
    ]
    return Table(
        "概况",
        "概况",
        (Column("类别", width=0.6), Column("指标", width=1.2), Column("数值", "by_row")),
        [r[:3] for r in rows],
        tuple(r[3] for r in rows),
    )


def summary_document(s: MonthlySummary) -> Document:
    tables = [
        _overview(s),
        Table(
            "异常类型",
            "异常类型",
            (Column("异常代码", width=1.4), Column("异常类型", width=1.4), Column("上门次数", "int")),
            [(e.code, e.label, e.visits) for e in s.exceptions.by_code],
        ),
        Table(
            "服务机构",
            "服务机构",
            (
                Column("机构编号", "int", 0.6),
                Column("服务机构", width=2.4),
                Column("上门", "int"),
                Column("核验通过", "int"),
                Column("核验通过率", "percent"),
                Column("异常", "int"),
                Column("月度配额", "int"),
                Column("已用配额", "int"),
                Column("配额使用率", "percent"),
                Column("回访", "int"),
                Column("平均满意度", "number"),
            ),
            [
                (
                    p.provider_id,
                    p.name,
                    p.visits,
                    p.verified,
                    p.verified_rate,
                    p.exceptions,
                    p.quota,
                    p.quota_used,
                    p.quota_use_rate,
                    p.follow_ups,
                    p.mean_satisfaction,
                )
                for p in s.providers
            ],
        ),
        Table(
            "街道覆盖",
            "街道覆盖（覆盖率由低到高）",
            (
                Column("街道代码", width=1.2),
                Column("街道", width=1.4),
                Column("应服务老人", "int"),
                Column("已服务老人", "int"),
                Column("覆盖率", "percent"),
            ),
            [(r.code, r.name, r.entitled, r.served, r.coverage_rate) for r in s.streets],
        ),
        Table(
            "老人类别",
            "按老人类别（高龄、百岁按身份证出生日期计）",
            (
                Column("类别代码", width=1.2),
                Column("类别", width=1.6),
                Column("在册老人", "int"),
                Column("已服务老人", "int"),
            ),
            [(c.category, c.label, c.elders, c.served) for c in (s.elder_groups.by_category if s.elder_groups else [])],
        ),
        Table(
            "环比",
            "与上月比较",
            (Column("指标", width=1.8), Column("本月", "by_row"), Column("上月", "by_row"), Column("变化", "by_row")),
            [(c.label, c.current, c.previous, c.delta) for c in s.change],
            tuple(HEADLINE_KINDS[c.figure] for c in s.change),
        ),
        Table(
            "更正",
            "往月更正（关账后补录）",
            (
                Column("所属月份"),
                Column("类别"),
                Column("上门编号", "int"),
                Column("机构编号", "int"),
                Column("核验结果"),
                Column("异常", width=1.6),
                Column("满意度", "int"),
                Column("记录时间", width=1.2),
            ),
            [
                (
                    a.month,
                    AMENDMENT_KIND_LABELS[a.kind],
                    a.visit_id,
                    a.provider_id,
                    VISIT_STATUS_LABELS.get(a.status, a.status),
                    "、".join(exception_label(c) for c in a.exceptions),
                    a.satisfaction,
                    local_time(a.recorded_at),
                )
                for a in s.amendments
            ],
        ),
    ]
    covered = [r for r in s.streets if r.coverage_rate is not None][:MAX_CHART_BARS]
    charts = [
        Chart("各街道覆盖率", [r.name for r in covered], [r.coverage_rate for r in covered], percent=True),
        Chart("各服务机构异常上门", *_top_exceptions(s)),
    ]
    closed = f"，{local_time(s.closure.closed_at)} 由 {s.closure.closed_by} 关账" if s.closure else ""
    return Document(
        s.title,
        s.area.name,
        s.month,
        s.generated_at,
        STATUS_LABELS[s.status] + closed,
        s.sha256,
        tables,
        charts,
        [NOTE_SHA],
    )


def _top_exceptions(s: MonthlySummary) -> tuple[list[str], list[float]]:
    worst = sorted((p for p in s.providers if p.exceptions), key=lambda p: (-p.exceptions, p.provider_id))
    worst = worst[:MAX_CHART_BARS]
    return [p.name for p in worst], [float(p.exceptions) for p in worst]


def exceptions_document(report: ExceptionsReport) -> Document:
    rows = [
        (
            r.visit_id,
            r.request_id,
            r.provider_name,
            r.caregiver,
            r.elder_name,
            r.area_code,
            local_time(r.check_in_at),
            local_time(r.check_out_at),
            r.duration_minutes,
            r.check_in_distance_m,
            r.check_out_distance_m,
            VISIT_STATUS_LABELS.get(r.status, r.status),
            "、".join(r.exception_labels),
            ",".join(r.exceptions),
        )
        for r in report.items
    ]
    table = Table(
        "异常明细",
        "异常上门明细",
        (
            Column("上门编号", "int"),
            Column("工单编号", "int"),
            Column("服务机构", width=2),
            Column("护理员"),
            Column("老人(脱敏)"),
            Column("社区代码", width=1.3),
            Column("签到时间", width=1.3),
            Column("签退时间", width=1.3),
            Column("时长(分钟)", "number"),
            Column("签到距家(米)", "number"),
            Column("签退距家(米)", "number"),
            Column("状态"),
            Column("异常类型", width=1.8),
            Column("异常代码", width=1.8),
        ),
        rows,
    )
    return Document(
        report.title,
        report.area.name,
        report.month,
        report.generated_at,
        f"共 {report.total} 条",
        report.sha256,
        [table],
        notes=[NOTE_SHA],
    )


def settlement_document(report: SettlementReport) -> Document:
    tables = [
        Table(
            "机构合计",
            "各机构应付",
            (
                Column("机构编号", "int", 0.6),
                Column("服务机构", width=2.2),
                Column("核验通过上门", "int"),
                Column("本月金额(元)", "money"),
                Column("补结算(元)", "money"),
                Column("应付合计(元)", "money"),
            ),
            [
                (p.provider_id, p.provider_name, p.visits, p.amount_yuan, p.adjustments_yuan, p.payable_yuan)
                for p in report.providers
            ]
            + [
                (
                    None,
                    "合计",
                    report.totals.visits,
                    report.totals.amount_yuan,
                    report.totals.adjustments_yuan,
                    report.totals.payable_yuan,
                )
            ],
        ),
        Table(
            "结算明细",
            "结算明细（核验通过上门 × 单价）",
            (
                Column("机构编号", "int", 0.6),
                Column("服务机构", width=2.2),
                Column("服务项目"),
                Column("单价起始日"),
                Column("单价(元)", "money"),
                Column("上门次数", "int"),
                Column("金额(元)", "money"),
            ),
            [
                (
                    line.provider_id,
                    line.provider_name,
                    line.service_label,
                    line.price_from.isoformat() if line.price_from else None,
                    line.unit_price_yuan,
                    line.visits,
                    line.amount_yuan,
                )
                for line in report.lines
            ],
        ),
        Table(
            "补结算",
            "往月补结算（关账后核验通过）",
            (
                Column("上门编号", "int"),
                Column("所属月份"),
                Column("服务机构", width=2),
                Column("服务项目"),
                Column("签到时间", width=1.3),
                Column("核验时间", width=1.3),
                Column("单价(元)", "money"),
                Column("金额(元)", "money"),
            ),
            [
                (
                    a.visit_id,
                    a.month,
                    a.provider_name,
                    a.service_label,
                    local_time(a.check_in_at),
                    local_time(a.verified_at),
                    a.unit_price_yuan,
                    a.amount_yuan,
                )
                for a in report.adjustments
            ],
        ),
    ]
    return Document(
        report.title,
        report.area.name,
        report.month,
        report.generated_at,
        STATUS_LABELS[report.status],
        report.sha256,
        tables,
        notes=[NOTE_SHA, *report.warnings],
    )
