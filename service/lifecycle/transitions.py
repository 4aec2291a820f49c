"""The statuses of requests and assignments, and the one table of the moves allowed between them.

Pure: no database, no I/O. `moves.py` builds every conditional UPDATE from this table (WHERE status IN a
move's sources, SET status = its target), the tables' CHECK constraints take their vocabularies from the
enums, and tests/service/test_lifecycle_transitions.py checks the table without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar


class RequestStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"  # offered to a provider, not yet accepted
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"  # a caregiver checked in
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    UNASSIGNABLE = "unassignable"  # nobody can take it (or it was set aside): operators act
    MISSED = "missed"  # a planned visit its month ended without
    ESCALATED = "escalated"  # an emergency nobody accepted in time (or nobody may take): operators phone


class AssignmentStatus(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # withdrawn: its request was cancelled or missed
    COMPLETED = "completed"


class Move(StrEnum):
    """What can happen to a request or an assignment. A move names the request's part, the assignment's
    part, or both (ACCEPT, COMPLETE)."""

    CLAIM = "claim"  # dispatch takes an open request to offer it
    OFFER = "offer"  # a new assignment, offered to one provider
    NOBODY = "nobody"  # dispatch found no provider who may take it
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    REOPEN = "reopen"  # after a decline or an expiry: back to dispatch
    EXHAUST = "exhaust"  # after a decline or an expiry, too many tries: to the operators
    WITHDRAW = "withdraw"  # the live offer of a request cancelled or missed
    START = "start"  # check-in
    COMPLETE = "complete"  # check-out
    MISS = "miss"
    CANCEL = "cancel"
    SET_ASIDE = "set_aside"  # its data made dispatch fail: to the operators, with the error (faults.py)
    ESCALATE = "escalate"  # an emergency not accepted in time, or with nobody to take it: the escalation queue
    ASSIGN = "assign"  # an operator offers the request to a provider of their choosing


S = TypeVar("S", RequestStatus, AssignmentStatus)


@dataclass(frozen=True)
class Transition(Generic[S]):
    """From any of `sources` to `target`; no sources: the row is created in `target`."""

    sources: frozenset[S]
    target: S

    def allows(self, status: str) -> bool:
        return status in self.sources


R, A = RequestStatus, AssignmentStatus
_NOT_STARTED = frozenset({R.OPEN, R.ASSIGNED, R.ACCEPTED, R.ESCALATED})
_LIVE_OFFER = frozenset({A.OFFERED, A.ACCEPTED})

REQUEST_MOVES: dict[Move, Transition[RequestStatus]] = {
    Move.CLAIM: Transition(frozenset({R.OPEN}), R.ASSIGNED),
    Move.NOBODY: Transition(frozenset({R.OPEN}), R.UNASSIGNABLE),
    # An escalated emergency keeps its live offers: the first provider to accept still takes it.
    Move.ACCEPT: Transition(frozenset({R.ASSIGNED, R.ESCALATED}), R.ACCEPTED),
    Move.REOPEN: Transition(frozenset({R.ASSIGNED, R.ACCEPTED}), R.OPEN),
    Move.EXHAUST: Transition(frozenset({R.ASSIGNED, R.ACCEPTED}), R.UNASSIGNABLE),
    Move.START: Transition(frozenset({R.ACCEPTED}), R.IN_PROGRESS),
    Move.COMPLETE: Transition(frozenset({R.IN_PROGRESS, R.ACCEPTED}), R.COMPLETED),
    Move.MISS: Transition(_NOT_STARTED, R.MISSED),
    Move.CANCEL: Transition(_NOT_STARTED, R.CANCELLED),
    Move.SET_ASIDE: Transition(_NOT_STARTED, R.UNASSIGNABLE),
    Move.ESCALATE: Transition(frozenset({R.OPEN, R.ASSIGNED}), R.ESCALATED),
    Move.ASSIGN: Transition(frozenset({R.OPEN, R.ASSIGNED, R.ESCALATED}), R.ASSIGNED),
}

ASSIGNMENT_MOVES: dict[Move, Transition[AssignmentStatus]] = {
    Move.OFFER: Transition(frozenset(), A.OFFERED),
    Move.ACCEPT: Transition(frozenset({A.OFFERED}), A.ACCEPTED),
    Move.DECLINE: Transition(_LIVE_OFFER, A.DECLINED),
    Move.EXPIRE: Transition(frozenset({A.OFFERED}), A.EXPIRED),
    Move.WITHDRAW: Transition(_LIVE_OFFER, A.CANCELLED),
    Move.COMPLETE: Transition(frozenset({A.ACCEPTED}), A.COMPLETED),
}


def sources_of(table: dict[Move, Transition[S]]) -> frozenset[S]:
    """The statuses some move leaves: a row in any other status is done with."""
    return frozenset(s for t in table.values() for s in t.sources)


def request_move(move: Move, only_from: frozenset[RequestStatus] | None = None) -> Transition[RequestStatus]:
    """The request's part of `move`, perhaps narrowed to some of its sources (a caller that knows more)."""
    transition = REQUEST_MOVES[move]
    if only_from is None:
        return transition
    if not only_from <= transition.sources:
        raise ValueError(f"{move} cannot move a request from {sorted(only_from - transition.sources)}")
    return Transition(only_from, transition.target)


def assignment_move(move: Move) -> Transition[AssignmentStatus]:
    return ASSIGNMENT_MOVES[move]


# Live requests: not yet done with (an alert joins one of an elder's).
LIVE_REQUEST = sources_of(REQUEST_MOVES)
# Live assignments: those a cancellation withdraws. An emergency not accepted in time is offered to several
# providers at once (service/escalation), so a request may have several `offered`; one `accepted` at most
# (the partial unique index on TAKEN_ASSIGNMENT).
LIVE_ASSIGNMENT = sources_of(ASSIGNMENT_MOVES)
TAKEN_ASSIGNMENT = frozenset({ASSIGNMENT_MOVES[Move.ACCEPT].target})
# Assignments a provider turned down or let lapse: that request never goes back to that provider.
SPENT_ASSIGNMENT = frozenset({ASSIGNMENT_MOVES[Move.DECLINE].target, ASSIGNMENT_MOVES[Move.EXPIRE].target})


def in_order(statuses: frozenset[S]) -> tuple[S, ...]:
    """The statuses in their enum's order: for SQL and messages that must not vary from run to run."""
    if not statuses:
        return ()
    kind = type(next(iter(statuses)))
    return tuple(s for s in kind if s in statuses)
