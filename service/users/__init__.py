"""Console user accounts (operators, regulators, admins), their Argon2 password hashes, server-side sessions
and the throttle on failed logins. Apps and devices keep their bearer tokens (service/tokens)."""
