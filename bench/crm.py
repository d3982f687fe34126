"""A deterministic synthetic CRM, generated inside DuckDB.

`python bench/crm.py [--scale S] [--out bench/data/crm.duckdb]` writes contacts, orders,
email events and cart adds (1M / 20M / 40M / 20M rows at scale 1) into a DuckDB file.
Values come from DuckDB's `hash()` of the row number and a seed, so the same DuckDB
version always produces the same data; nothing is committed (bench/data/ is git-ignored).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from segql.core.schema import Entity, FieldDef, Schema, Source, Stream, TraitDef
from segql.core.types import Type

AS_OF = "2026-06-01 12:00:00"
CONTACTS = 1_000_000
ORDERS = 20_000_000
EMAILS = 40_000_000
CART_ADDS = 20_000_000
PRODUCTS = 500
SEED = 20261123


def _u(expr: str, salt: int) -> str:
    """A uniform number in [0, 1) from the hash of ``expr`` and a salt."""
    return f"((hash({expr} * 7919 + {salt + SEED}) % 1000003) / 1000003.0)"


def generate(path: Path, scale: float = 1.0) -> dict[str, int]:
    import duckdb

    n_c = max(100, int(CONTACTS * scale))
    n_o = max(1000, int(ORDERS * scale))
    n_e = max(2000, int(EMAILS * scale))
    n_a = max(1000, int(CART_ADDS * scale))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    countries = "['US','US','US','DE','DE','GB','FR','CA','IN','BR','JP','AT','CH','NL','ES']"
    sources = "['organic','paid_search','social','referral','newsletter','partner']"
    con.execute(
        f"""
        CREATE TABLE contacts AS
        SELECT
          i AS id,
          'c' || i || '@example.com' AS email,
          CASE WHEN {_u("i", 1)} < 0.08 THEN NULL
               ELSE 18 + CAST(floor({_u("i", 2)} * 60) AS INTEGER) END AS age,
          CASE WHEN {_u("i", 3)} < 0.03 THEN NULL
               ELSE {countries}[1 + CAST(floor({_u("i", 4)} * 15) AS INTEGER)] END AS country,
          DATE '1950-01-01' + CAST(floor({_u("i", 5)} * 20000) AS INTEGER) AS birthday,
          TIMESTAMP '{AS_OF}' - to_seconds(CAST(floor({_u("i", 6)} * 94608000) AS BIGINT))
            AS signup_at,
          {sources}[1 + CAST(floor({_u("i", 7)} * 6) AS INTEGER)] AS lead_source,
          CASE WHEN {_u("i", 8)} < 0.05 THEN NULL ELSE {_u("i", 9)} < 0.7 END AS email_consent
        FROM range(1, {n_c} + 1) t(i)
        """
    )
    # Orders and emails pick contacts with a skew (a cubic law): a few buy very often.
    # Event rows are in (nearly) time order, as in an append-only log: each row's time is
    # its share of the period plus up to an hour of jitter.
    cats = "['shoes','bags','apparel','accessories','beauty']"
    con.execute(
        f"""
        CREATE TABLE orders AS
        SELECT
          j AS order_id,
          1 + CAST(floor(pow({_u("j", 11)}, 3) * {int(n_c * 0.6)}) AS BIGINT) AS contact_id,
          TIMESTAMP '{AS_OF}' - INTERVAL 727 DAY
            + to_seconds(CAST(floor((j - 1) * 63072000.0 / {n_o} + {_u("j", 12)} * 3600) AS BIGINT))
            AS ordered_at,
          CAST(round(5 + {_u("j", 13)} * {_u("j", 14)} * 400, 2) AS DECIMAL(10, 2)) AS amount,
          {cats}[1 + CAST(floor({_u("j", 15)} * 5) AS INTEGER)] AS category,
          'p' || CAST(floor(pow({_u("j", 16)}, 2) * {PRODUCTS}) AS INTEGER) AS product
        FROM range(1, {n_o} + 1) t(j)
        """
    )
    con.execute(
        f"""
        CREATE TABLE email_events AS
        SELECT
          1 + CAST(floor(pow({_u("k", 21)}, 2) * {n_c}) AS BIGINT) AS contact_id,
          TIMESTAMP '{AS_OF}' - INTERVAL 363 DAY
            + to_seconds(CAST(floor((k - 1) * 31536000.0 / {n_e} + {_u("k", 22)} * 3600) AS BIGINT))
            AS at,
          CASE WHEN {_u("k", 23)} < 0.55 THEN 'send'
               WHEN {_u("k", 23)} < 0.88 THEN 'open' ELSE 'click' END AS type,
          'campaign_' || CAST(floor({_u("k", 24)} * 40) AS INTEGER) AS campaign
        FROM range(1, {n_e} + 1) t(k)
        """
    )
    # Cart adds over the last year, the same contacts' skew as orders and the same
    # products (so some adds are followed by an order of that product).
    con.execute(
        f"""
        CREATE TABLE cart_adds AS
        SELECT
          1 + CAST(floor(pow({_u("a", 31)}, 3) * {int(n_c * 0.6)}) AS BIGINT) AS contact_id,
          TIMESTAMP '{AS_OF}' - INTERVAL 363 DAY
            + to_seconds(CAST(floor((a - 1) * 31536000.0 / {n_a} + {_u("a", 32)} * 3600) AS BIGINT))
            AS added_at,
          'p' || CAST(floor(pow({_u("a", 33)}, 2) * {PRODUCTS}) AS INTEGER) AS product
        FROM range(1, {n_a} + 1) t(a)
        """
    )
    con.close()
    return {"contacts": n_c, "orders": n_o, "email_events": n_e, "cart_adds": n_a}


VERSION = 3  # of the generator: a change to the data names a new file


def ensure(scale: float = 1.0) -> Path:
    """The CRM at ``scale`` under bench/data/, generated on first use (the file is named
    after the generator's version, so an older file is never read as the current data)."""
    path = Path(__file__).parent / "data" / f"crm-v{VERSION}-{scale:g}.duckdb"
    if not path.exists():
        start = time.perf_counter()
        counts = generate(path, scale)
        print(f"generated {counts} in {time.perf_counter() - start:.1f}s")
    return path


def schema() -> Schema:
    from segql.checker import check_schema

    def f(name: str, t: Type) -> FieldDef:
        return FieldDef(name=name, type=t, column=name)

    entity = Entity(
        source=Source(table="contacts"),
        key="id",
        fields={
            x.name: x
            for x in [
                f("email", Type.STRING),
                f("age", Type.INTEGER),
                f("country", Type.STRING),
                f("birthday", Type.DATE),
                f("signup_at", Type.TIMESTAMP),
                f("lead_source", Type.STRING),
                f("email_consent", Type.BOOLEAN),
            ]
        },
    )
    orders = Stream(
        name="orders",
        source=Source(table="orders"),
        key="contact_id",
        time="ordered_at",
        fields={
            "amount": f("amount", Type.DECIMAL),
            "category": f("category", Type.STRING),
            "product": f("product", Type.STRING),
        },
    )
    cart_adds = Stream(
        name="cart_adds",
        source=Source(table="cart_adds"),
        key="contact_id",
        time="added_at",
        fields={"product": f("product", Type.STRING)},
    )

    def emails(name: str, kind: str) -> Stream:
        return Stream(
            name=name,
            source=Source(table="email_events"),
            key="contact_id",
            time="at",
            fields={"type": f("type", Type.STRING), "campaign": f("campaign", Type.STRING)},
            filter_text=f"type = '{kind}'",
        )

    s = Schema(
        timezone="UTC",
        entity=entity,
        streams={
            "orders": orders,
            "email_opens": emails("email_opens", "open"),
            "cart_adds": cart_adds,
        },
        traits={
            "avg_order_value": TraitDef(name="avg_order_value", text="avg(orders.amount)"),
            "total_spent": TraitDef(name="total_spent", text="sum(orders.amount)"),
            "purchases": TraitDef(name="purchases", text="count(orders)"),
        },
    )
    errors = [d for d in check_schema(s) if d.is_error]
    assert not errors, errors
    return s


def main(argv: Any = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "data" / "crm.duckdb")
    args = p.parse_args(argv)
    start = time.perf_counter()
    counts = generate(args.out, args.scale)
    took = time.perf_counter() - start
    print(f"wrote {args.out}: {counts} in {took:.1f}s")


if __name__ == "__main__":
    main()
