"""The lifecycle's table of moves (service/lifecycle/transitions.py), checked without a database: what it
allows, what it never allows, the statements built from it, and the table in docs/design.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from service.lifecycle.models import Assignment, ServiceRequest
from service.lifecycle.moves import assignment_update, request_update
from service.lifecycle.transitions import (
    ASSIGNMENT_MOVES,
    LIVE_ASSIGNMENT,
    LIVE_REQUEST,
    REQUEST_MOVES,
    SPENT_ASSIGNMENT,
    TAKEN_ASSIGNMENT,
    AssignmentStatus,
    Move,
    RequestStatus,
    Transition,
    in_order,
    request_move,
)

R, A = RequestStatus, AssignmentStatus
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def reachable(table, start) -> set:
    seen, frontier = {start}, [start]
    while frontier:
        status = frontier.pop()
        for t in table.values():
            if status in t.sources and t.target not in seen:
                seen.add(t.target)
                frontier.append(t.target)
    return seen


def test_every_status_is_reachable_from_where_rows_begin():
    assert reachable(REQUEST_MOVES, R.OPEN) == set(R)
    created = {t.target for t in ASSIGNMENT_MOVES.values() if not t.sources}
    assert created == {A.OFFERED}
    assert reachable(ASSIGNMENT_MOVES, A.OFFERED) == set(A)


def test_finished_rows_never_move_again():
    assert set(R) - LIVE_REQUEST == {R.COMPLETED, R.CANCELLED, R.UNASSIGNABLE, R.MISSED}
    assert set(A) - LIVE_ASSIGNMENT == {A.DECLINED, A.EXPIRED, A.CANCELLED, A.COMPLETED}
    for table, live in ((REQUEST_MOVES, LIVE_REQUEST), (ASSIGNMENT_MOVES, LIVE_ASSIGNMENT)):
        for move, t in table.items():
            assert t.sources <= live, move
            if move is not Move.ASSIGN:  # an operator's hand-over may replace the offers of an assigned request
                assert t.target not in t.sources, f"{move} would move a row to where it is"


def test_the_live_sets_are_the_ones_the_database_and_dispatch_rely_on():
    # an alert joins one of these
    assert LIVE_REQUEST == {R.OPEN, R.ASSIGNED, R.ACCEPTED, R.IN_PROGRESS, R.ESCALATED}
    assert LIVE_ASSIGNMENT == {A.OFFERED, A.ACCEPTED}  # what a cancellation withdraws
    assert TAKEN_ASSIGNMENT == {A.ACCEPTED}  # at most one a request (the partial unique index)
    assert SPENT_ASSIGNMENT == {A.DECLINED, A.EXPIRED}  # never offered to that provider again


@pytest.mark.parametrize(
    ("move", "allowed", "refused"),
    [
        (
            Move.CANCEL,
            {R.OPEN, R.ASSIGNED, R.ACCEPTED, R.ESCALATED},
            {R.IN_PROGRESS, R.COMPLETED, R.CANCELLED, R.MISSED},
        ),
        (Move.MISS, {R.OPEN, R.ASSIGNED, R.ACCEPTED}, {R.IN_PROGRESS, R.COMPLETED, R.UNASSIGNABLE}),
        (Move.START, {R.ACCEPTED}, {R.OPEN, R.ASSIGNED, R.IN_PROGRESS}),
        (Move.COMPLETE, {R.IN_PROGRESS, R.ACCEPTED}, {R.OPEN, R.ASSIGNED, R.CANCELLED}),
        (Move.CLAIM, {R.OPEN}, {R.ASSIGNED, R.UNASSIGNABLE}),
        (Move.NOBODY, {R.OPEN}, {R.ASSIGNED, R.ACCEPTED}),
        # An emergency nobody took in time, or nobody may take; an accepted one never goes to the queue.
        (Move.ESCALATE, {R.OPEN, R.ASSIGNED}, {R.ACCEPTED, R.IN_PROGRESS, R.ESCALATED, R.COMPLETED}),
        # The first provider to accept an escalated emergency still takes it.
        (Move.ACCEPT, {R.ASSIGNED, R.ESCALATED}, {R.OPEN, R.ACCEPTED, R.UNASSIGNABLE}),
        # Operators take over any request not yet accepted; a closed one is not theirs to revive.
        (Move.ASSIGN, {R.OPEN, R.ASSIGNED, R.ESCALATED}, {R.ACCEPTED, R.IN_PROGRESS, R.COMPLETED, R.UNASSIGNABLE}),
    ],
)
def test_request_moves_leave_only_their_sources(move, allowed, refused):
    transition = REQUEST_MOVES[move]
    assert {s for s in R if transition.allows(s)} >= allowed
    assert not any(transition.allows(s) for s in refused)


@pytest.mark.parametrize(
    ("move", "sources", "target"),
    [
        (Move.ACCEPT, {A.OFFERED}, A.ACCEPTED),
        (Move.DECLINE, {A.OFFERED, A.ACCEPTED}, A.DECLINED),  # an accepted offer may be given up before the visit
        (Move.EXPIRE, {A.OFFERED}, A.EXPIRED),  # an accepted offer never expires
        (Move.WITHDRAW, {A.OFFERED, A.ACCEPTED}, A.CANCELLED),
        (Move.COMPLETE, {A.ACCEPTED}, A.COMPLETED),
    ],
)
def test_assignment_moves(move, sources, target):
    assert ASSIGNMENT_MOVES[move] == Transition(frozenset(sources), target)


def test_a_request_and_its_assignment_move_together():
    # Accepting moves both; so does completing. An offer is made with the claim of its request, and what
    # ends an offer (decline, expiry) hands its request back (reopen) or to the operators (exhaust).
    assert REQUEST_MOVES[Move.ACCEPT].target == R.ACCEPTED and ASSIGNMENT_MOVES[Move.ACCEPT].target == A.ACCEPTED
    assert REQUEST_MOVES[Move.COMPLETE].target == R.COMPLETED
    assert ASSIGNMENT_MOVES[Move.COMPLETE].target == A.COMPLETED
    assert REQUEST_MOVES[Move.CLAIM].target == R.ASSIGNED and ASSIGNMENT_MOVES[Move.OFFER].target == A.OFFERED
    for ended in (Move.DECLINE, Move.EXPIRE):
        assert ended in ASSIGNMENT_MOVES and ended not in REQUEST_MOVES
    assert REQUEST_MOVES[Move.REOPEN].sources == REQUEST_MOVES[Move.EXHAUST].sources == {R.ASSIGNED, R.ACCEPTED}
    assert set(REQUEST_MOVES) | set(ASSIGNMENT_MOVES) == set(Move)


def test_a_caller_may_narrow_a_move_but_never_widen_it():
    assert request_move(Move.SET_ASIDE, frozenset({R.OPEN})) == Transition(frozenset({R.OPEN}), R.UNASSIGNABLE)
    with pytest.raises(ValueError, match="in_progress"):
        request_move(Move.CANCEL, frozenset({R.OPEN, R.IN_PROGRESS}))


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_each_move_is_one_conditional_update_from_the_table(dialect):
    for move, transition in REQUEST_MOVES.items():
        statement = request_update(7, transition, NOW).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        sql = " ".join(str(statement).split())
        assert sql.startswith("UPDATE service_request SET status=") and " RETURNING " in sql, move
        listed = ", ".join(f"'{s}'" for s in in_order(transition.sources))
        assert f"service_request.status IN ({listed})" in sql, move
        assert f"status='{transition.target}'" in sql, move
    for move, transition in ASSIGNMENT_MOVES.items():
        if not transition.sources:
            continue
        sql = " ".join(
            str(
                assignment_update(9, transition, NOW).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            ).split()
        )
        listed = ", ".join(f"'{s}'" for s in in_order(transition.sources))
        assert f"assignment.status IN ({listed})" in sql and f"status='{transition.target}'" in sql, move


def test_the_tables_check_constraints_hold_exactly_the_enums():
    def checked(table, name: str) -> set[str]:
        [constraint] = [c for c in table.constraints if c.name.endswith(name)]
        return set(re.findall(r"'(\w+)'", str(constraint.sqltext)))

    assert checked(ServiceRequest.__table__, "request_status") == {s.value for s in R}
    assert checked(Assignment.__table__, "assignment_status") == {s.value for s in A}
    [taken] = [i for i in Assignment.__table__.indexes if i.name == "uq_assignment_taken_per_request"]
    assert set(re.findall(r"'(\w+)'", str(taken.dialect_options["postgresql"]["where"]))) == set(TAKEN_ASSIGNMENT)


def _rendered(transition: Transition | None) -> str:
    if transition is None:
        return "—"
    sources = ", ".join(in_order(transition.sources)) if transition.sources else "(new)"
    return f"{sources} → {transition.target}"


def test_docs_design_lists_the_table_as_the_code_has_it():
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    block = text.split("<!-- lifecycle-table -->")[1].split("<!-- /lifecycle-table -->")[0]
    documented = [
        tuple(cell.strip().strip("`") for cell in line.strip().strip("|").split("|"))
        for line in block.strip().splitlines()[2:]
        if line.startswith("|")
    ]
    expected = [
        (move.value, _rendered(REQUEST_MOVES.get(move)), _rendered(ASSIGNMENT_MOVES.get(move))) for move in Move
    ]
    assert documented == expected
