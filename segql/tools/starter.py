"""`segql init`: a commented starter project (schema, catalog, segql.toml).

The starter passes `segql check` as written; its comments say what to change. Nothing is
overwritten: when any of the three files exists, nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["STARTER", "write_starter"]

PROJECT = """\
# segql project file: defaults for every segql command run in this folder or below it.
# Options on the command line override them. Paths are relative to this file.
schema = "schema.yaml"
catalogs = ["segments.yaml"]

# The data: a DuckDB database file. Leave it out when the schema reads files (`file:`).
# db = "crm.duckdb"

# SQL dialect for `segql sql`: duckdb (default), postgres, sqlite, or an experimental one.
# dialect = "postgres"

# Evaluate segments at a fixed instant (reproducible runs); default: now.
# as_of = "2026-06-01T00:00:00Z"

# More folders that `file:` sources may be read from (the schema's folder always is).
# allow_files = ["../data"]
"""

SCHEMA = """\
# segql schema: how segql names map onto your tables (docs/schema.md).
timezone: UTC                  # IANA name, for calendar functions and date literals

entity:                        # your contacts: one row per contact
  table: contacts              # a table or view (or `file: contacts.parquet`)
  key: id                      # the column holding each contact's unique key
  fields:                      # name: type (string integer decimal float boolean date
    email: string              #   timestamp list<string> list<integer>)
    first_name: string
    country: {type: string, values: [US, DE, FR, GB]}   # known values are checked
    signup_at: timestamp
    email_consent: boolean

events:                        # event streams: many rows per contact
  orders:
    table: orders
    key: contact_id            # the column holding the contact's key
    time: ordered_at           # the event's time
    fields: {amount: decimal, category: string}

traits:                        # named values, written in segql
  purchases: count(orders)
  total_spent: sum(orders.amount)
  last_order: last(orders)
"""

CATALOG = """\
# segql segments (docs/language.md). Try: segql count @repeat_buyers
segments:
  repeat_buyers:
    description: Bought at least three times
    where: purchases >= 3
  lapsed:
    description: Customers without an order in six months
    where: purchases >= 1 and last_order > 180d
  new_subscribers:
    description: Signed up in the last 30 days and agreed to email
    where: signup_at within 30d and email_consent
"""

STARTER = {"segql.toml": PROJECT, "schema.yaml": SCHEMA, "segments.yaml": CATALOG}


def write_starter(folder: Path) -> int:
    """Write the starter files into ``folder`` (created if missing); exit code."""
    from segql.core.fsutil import write_atomic

    targets = {name: folder / name for name in STARTER}
    present = [str(p) for p in targets.values() if p.exists()]
    if present:
        print(
            "segql init: "
            + ", ".join(present)
            + (" exists" if len(present) == 1 else " exist")
            + "; nothing was written",
            file=sys.stderr,
        )
        return 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in STARTER.items():
            write_atomic(targets[name], text)
    except OSError as e:
        print(f"segql init: cannot write into {folder}: {e.strerror or e}", file=sys.stderr)
        return 1
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    print(
        f"wrote {', '.join(str(targets[n]) for n in STARTER)}\n\n"
        "Next: point `table:` and the fields in schema.yaml at your data, set `db` in\n"
        f"segql.toml, then:\n\n    {where}segql check\n    {where}segql count @repeat_buyers"
    )
    return 0
