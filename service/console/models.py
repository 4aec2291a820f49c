"""What the console's reads need of other domains' tables: indexes for the caller search.

The name's beginning: on PostgreSQL `text_pattern_ops` lets `name LIKE '张桂%'` use the index whatever the
database's collation; on SQLite it is a plain index on the name. The end of an ID number: on PostgreSQL an index
on `reverse(id_number)` (`text_pattern_ops` again) turns `LIKE '%123456'` into the prefix lookup
`reverse(id_number) LIKE '654321%'`; SQLite has no reverse(), so the index is PostgreSQL's only (`ddl_if`; Alembic
cannot reflect SQLite's expression indexes and leaves it out of the comparison there, with a warning) and SQLite
keeps reading the elders. Declared here, beside the search (queries.py), not in the elders' model, which the console
only reads.
"""

from sqlalchemy import Index, func

from service.elders.models import Elder

NAME_PREFIX_INDEX = Index("ix_elder_name_pattern", Elder.name, postgresql_ops={"name": "text_pattern_ops"})
ID_TAIL_INDEX = Index(
    "ix_elder_id_number_reversed",
    func.reverse(Elder.id_number).label("id_number_reversed"),
    postgresql_ops={"id_number_reversed": "text_pattern_ops"},
).ddl_if(dialect="postgresql")
