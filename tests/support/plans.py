"""Plans PostgreSQL may choose for a statement once it is prepared: a long-running process's
statements are, after a few runs, and a generic plan can use a partial index only if the SQL
names the index's predicate itself, not as parameters."""
from __future__ import annotations

import re
from typing import Any

from psycopg import sql
from sqlalchemy import Engine


def generic_plan(engine: Engine, statement: str, params: dict[str, Any]) -> str:
    """EXPLAIN of ``statement`` prepared and planned without its parameters' values."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", statement)))
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    with engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("SET enable_seqscan = off")  # the test's tables are nearly empty
        conn.exec_driver_sql(f"PREPARE probe AS {numbered}")
        raw = conn.connection.driver_connection
        values = ", ".join(sql.Literal(params[n]).as_string(raw) for n in names)
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE probe({values})" if names else "EXPLAIN EXECUTE probe").all()
        conn.exec_driver_sql("DEALLOCATE probe")
        conn.rollback()
    return "\n".join(row[0] for row in rows)
