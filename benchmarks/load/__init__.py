"""Load benchmark of the dispatch workflow on PostgreSQL (issue 5 § Performance).

    .venv/bin/python -m benchmarks.load [--seconds 60] [--operators 50] [--apps 100] [--seed 2026]
                                        [--scheduler in-process|separate] [--api-processes 1]
                                        [--app-feed poll|stream] [--stream-drop-s 20]
                                        [--trace-offers] [--keep-db]

Everything runs on 127.0.0.1: a setup, then three phases of --seconds each.
- Setup: drops and recreates `homecare_bench_load` (migrated, Guandu seeded, one operator token, one
  token per provider) and `homecare_bench_bare` (one scratch table); starts the real service,
  `homecare serve` (one uvicorn process, the scheduler in-process unless --scheduler separate).
- **mixed**: operators create requests (mostly routine/urgent, 10 % emergency, each with an
  Idempotency-Key, 5 % replayed) while provider apps (several per provider, sharing its token) pull with
  their cursor, race to accept offers (409 to the losers is expected), check in and check out. Then a
  feed audit: each app pulls on from its last cursor and is compared with a full listing of its provider.
  With --app-feed stream the apps follow the offer stream instead of polling, dropping and resuming it
  every --stream-drop-s or so; the audit resumes each app's stream once more from its last event id, and
  counts offers never sent and offers sent twice.
- **create-only**: the same operators alone against the service, each turn one new request with its own
  Idempotency-Key and no replay: the loop of the bare phase, so that the two throughputs compare like with
  like (replays, which the ratio would not count, are exercised in the mixed phase).
- **bare**: the service is stopped; the same operators hammer a tiny FastAPI app served by uvicorn the
  same way, whose one route does a single `INSERT ... RETURNING id` through an asyncpg pool. Create
  throughput / bare throughput is the ratio issue 5 targets (>= 0.6).
Afterwards the database is asked: lost or duplicated requests, two live assignments for one request (an
emergency's escalation offers aside, until one is accepted), two
winners of one offer, duplicated visits, quota usage that disagrees with the assignments; emergency offer
latency is created_at -> first offered_at. One markdown report goes to stdout, progress to stderr; the
exit status is 1 when an integrity check fails.

Choices (elders, urgencies, keys, times) come from seeded generators; the interleaving of 150 clients on a
shared machine does not. The load generator runs on the same cores as the server and PostgreSQL, and other
processes may too: the CPU table says who was busy, and server CPU per created request is the number least
disturbed by them. Provider quotas are raised after seeding (unless --keep-quotas): a minute of load asks
for more visits than Guandu's monthly quota, and this measures throughput, not quota exhaustion. Servers
are stopped and databases dropped at the end, on failure and on Ctrl-C (--keep-db keeps them and the logs).
"""
