"""The lifecycle of a service request (工单) and of its assignments (派单), in one place.

- `transitions`: the statuses (StrEnums) and the one table of the moves allowed between them (pure);
- `models`: the two tables, `ServiceRequest` and `Assignment`;
- `quota`: the providers' monthly quota units, taken with an offer and given back when it comes to nothing;
- `moves`: the moves themselves, each one conditional UPDATE … WHERE status IN (the table's sources) …
  RETURNING, so two racing writers can never both win a move.

Nothing here commits: the request's session dependency or the job that called it does (docs/design.md §
Transactions). This module imports nothing, so that `transitions` can be read without the database layer.
"""
