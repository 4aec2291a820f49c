"""Escalation, never silence (issue 13 items 2 and 4): an emergency not accepted in time is offered to the
next nearest providers at once and then goes to the operators' escalation queue (`sweep`); operators see
the queue, the ranked candidates of any request not yet accepted, and hand it to one of them (`service`,
`router`)."""
