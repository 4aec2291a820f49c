"""Fault benchmark: the production layout on PostgreSQL under load while processes and the database fail.

    .venv/bin/python -m benchmarks.faults [--seconds 20] [--warmup 10] [--faults api scheduler takeover postgres]
                                          [--api 2] [--operators 10] [--think 0.5] [--apps 20] [--seed 2026]
                                          [--keep]

Everything runs on 127.0.0.1, on a private PostgreSQL 15 cluster made for the run (`initdb` into a temporary
directory as the `postgres` OS user, port 55432 or a free one) — the only database the benchmark may restart;
it is stopped and deleted at the end, on failure and on Ctrl-C/SIGTERM (only a kill -9 of the benchmark
itself leaves it running: `runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D DIR stop`). The
service runs as in production: --api `homecare serve --no-scheduler` replicas (2, as docker-compose.yml) and
two `homecare scheduler` processes, as docker-compose.yml: the leader holds an advisory lock, the other waits
as a hot standby; each one's heartbeat file says which it is. Each client has its replica and, as a
load balancer would, goes to the next one when its own refuses the connection. Guandu is seeded, quotas
raised, as in the load benchmark (benchmarks/load), whose clients, database audit and feed audit are reused.

Operators (each one create per --think seconds on average, 10 % emergencies) and provider apps (pull, race to
accept, check in and out) run throughout, and retry every call the service did not really answer — connection
error, 5xx, 429, 409 "still being processed" — with the same Idempotency-Key and body until it is answered.
After a warm-up, the faults are injected one after another, each watched for --seconds:
- api: kill -9 of the first API replica, restarted at once (Docker's `restart: unless-stopped`);
- scheduler: kill -9 of the leader, restarted at once: the standby must take over, the restarted one waits;
- takeover: a third scheduler started (it waits), then the leader killed -9 and not restarted (a rolling
  deploy): the old standby must take over, the new one becomes the standby;
- postgres: the cluster stopped (fast) and started again; nothing else is done for the service.
Per fault, from its injection: when every replica's /readyz answers 200 again; when a (new) leader holds the
lock; when an emergency created right after the fault is first offered (dispatching resumed; its own created →
offered in brackets); when the backlog is back to its level before the faults; and the client-visible answers
by class until the next fault. After the window, a service that still cannot dispatch (no scheduler left) is
mended by the benchmark and that is reported as a human's intervention. Afterwards the clients get a grace
period to have their retries answered, and the database is audited as after the load benchmark. One Markdown
report goes to stdout, progress to stderr; the exit status is 1 when a target is missed: a check fails, a 5xx
other than 503 was seen, or dispatching did not resume within 5 s of a fault without help.
"""
