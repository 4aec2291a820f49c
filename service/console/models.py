"""What the console's reads need of other domains' tables: an index for the caller search by a name's beginning.

On PostgreSQL `text_pattern_ops` lets `name LIKE '张桂%'` use the index whatever the database's collation; on
SQLite it is a plain index on the name. Declared here, beside the search (queries.py), not in the elders'
model, which the console only reads.
"""

from sqlalchemy import Index

from service.elders.models import Elder

NAME_PREFIX_INDEX = Index("ix_elder_name_pattern", Elder.name, postgresql_ops={"name": "text_pattern_ops"})
