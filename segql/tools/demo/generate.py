"""Deterministic example data for a small online shop.

Rows come from a seeded ``random.Random`` (the same on every machine and Python version),
are staged as CSV and typed into Parquet by DuckDB. Timestamps are naive UTC (Parquet
``TIMESTAMP`` without time zone). Some events lie after the demo's as_of (they must stay
invisible) and some contacts have no events at all.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import random
import shutil
import tempfile
from pathlib import Path

__all__ = ["AS_OF", "ensure_demo_data", "generate"]

AS_OF = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
VERSION = "demo-v2"
# The catalog's finished experiment (examples/shop/segments.yaml, `winback_email`): its
# start, window and salt, so the data can plant a visible effect of the email arm.
EXPERIMENT_START = dt.datetime(2026, 4, 1)
EXPERIMENT_SALT = "winback_email"
EXPERIMENT_LIFT = 0.12  # extra share of the email arm that orders within the window

COUNTRIES = [
    ("US", 30), ("DE", 14), ("GB", 10), ("FR", 8), ("CA", 6), ("IN", 6), ("BR", 5),
    ("JP", 4), ("AT", 3), ("CH", 3), ("NL", 3), ("ES", 3), ("IT", 3),
]  # fmt: skip
LEAD_SOURCES = [
    ("organic", 35), ("paid_search", 20), ("social", 18), ("referral", 12),
    ("newsletter", 10), ("partner", 5),
]  # fmt: skip
FIRST = [
    "Ann",
    "Ben",
    "Cara",
    "Dan",
    "Eva",
    "Finn",
    "Gia",
    "Hugo",
    "Ida",
    "Jon",
    "Kai",
    "Lea",
    "Max",
    "Nia",
    "Otto",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tia",
    "Uwe",
    "Vera",
    "Will",
    "Xia",
    "Yara",
    "Zoe",
]
LAST = [
    "Smith",
    "Müller",
    "Martin",
    "Rossi",
    "García",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Brown",
    "Dubois",
    "Novak",
    "Jensen",
]
CATEGORIES = [("shoes", 30), ("bags", 20), ("apparel", 25), ("accessories", 15), ("beauty", 10)]
PRODUCTS = {
    "shoes": ["sneakers", "boots", "sandals", "loafers"],
    "bags": ["tote", "backpack", "clutch"],
    "apparel": ["shirt", "dress", "jacket", "jeans"],
    "accessories": ["belt", "scarf", "hat", "wallet"],
    "beauty": ["lipstick", "perfume", "cream"],
}
PRICE = {"shoes": 90, "bags": 120, "apparel": 55, "accessories": 30, "beauty": 25}
CAMPAIGNS = ["welcome", "spring_sale", "summer_drop", "vip_preview", "winback", "newsletter"]
PATHS = ["/", "/shoes", "/bags", "/apparel", "/sale", "/account", "/cart", "/search"]
TAGS = ["vip", "wholesale", "beta", "newsletter", "influencer"]

CONTACT_COLUMNS = {
    "id": "BIGINT",
    "email": "VARCHAR",
    "first_name": "VARCHAR",
    "last_name": "VARCHAR",
    "age": "INTEGER",
    "country": "VARCHAR",
    "city": "VARCHAR",
    "birthday": "DATE",
    "signup_at": "TIMESTAMP",
    "lead_source": "VARCHAR",
    "email_consent": "BOOLEAN",
    "sms_consent": "BOOLEAN",
    "tags": "VARCHAR",  # '|'-joined while staging; a VARCHAR[] in Parquet
}
ORDER_COLUMNS = {
    "order_id": "BIGINT",
    "contact_id": "BIGINT",
    "ordered_at": "TIMESTAMP",
    "amount": "DECIMAL(10,2)",
    "category": "VARCHAR",
    "product": "VARCHAR",
    "channel": "VARCHAR",
    "discount": "BOOLEAN",
}
EMAIL_COLUMNS = {
    "contact_id": "BIGINT",
    "at": "TIMESTAMP",
    "type": "VARCHAR",
    "campaign": "VARCHAR",
}
VIEW_COLUMNS = {
    "contact_id": "BIGINT",
    "at": "TIMESTAMP",
    "path": "VARCHAR",
    "category": "VARCHAR",
}
CART_COLUMNS = {
    "contact_id": "BIGINT",
    "at": "TIMESTAMP",
    "type": "VARCHAR",
    "product": "VARCHAR",
    "amount": "DECIMAL(10,2)",
}


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _ts(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _rows(contacts: int, seed: int, as_of: dt.datetime) -> dict[str, list[tuple[object, ...]]]:
    rng = random.Random(seed)
    out: dict[str, list[tuple[object, ...]]] = {
        "contacts": [],
        "orders": [],
        "email_events": [],
        "page_views": [],
        "cart_events": [],
    }
    order_id = 0
    planted = random.Random(seed + 1)  # its own stream: the rest of the data is unchanged
    three_years = 3 * 365 * 86400
    for cid in range(1, contacts + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        signup = as_of - dt.timedelta(seconds=rng.randrange(three_years))
        age = None if rng.random() < 0.08 else int(rng.triangular(18, 75, 32))
        if rng.random() < 0.10:
            birthday = None
        elif rng.random() < 0.01:
            birthday = dt.date(rng.choice([1988, 1992, 1996, 2000]), 2, 29)
        else:
            year = 2026 - (age or 35)
            month = rng.randint(1, 12)
            birthday = dt.date(year, month, rng.randint(1, calendar.monthrange(year, month)[1]))
        consent = None if rng.random() < 0.05 else rng.random() < 0.7
        tags = [t for t in TAGS if rng.random() < 0.06]
        out["contacts"].append(
            (
                cid,
                f"{first.lower()}.{last.lower()}{cid}@example.com",
                first,
                last,
                age,
                None if rng.random() < 0.03 else _pick(rng, COUNTRIES),
                rng.choice(["Berlin", "Paris", "London", "Austin", "Tokyo", "Toronto", None]),
                birthday.isoformat() if birthday else None,
                _ts(signup),
                _pick(rng, LEAD_SOURCES),
                consent,
                rng.random() < 0.3,
                "|".join(tags) if tags else None,
            )
        )
        # Orders: a long tail — most contacts buy rarely, a few very often.
        n_orders = min(int(rng.paretovariate(1.3)) - 1, 60) if rng.random() < 0.75 else 0
        span = (as_of - signup).total_seconds()
        first_order = len(out["orders"])
        for _ in range(n_orders):
            at = signup + dt.timedelta(seconds=rng.random() * span * 1.02)  # ~2% after as_of
            cat = _pick(rng, CATEGORIES)
            order_id += 1
            amount = round(rng.lognormvariate(0, 0.5) * PRICE[cat], 2)
            out["orders"].append(
                (
                    order_id,
                    cid,
                    _ts(at),
                    f"{amount:.2f}",
                    cat,
                    rng.choice(PRODUCTS[cat]),
                    rng.choice(["web", "web", "app", "store"]),
                    rng.random() < 0.2,
                )
            )
        _plant_conversion(out["orders"], first_order, cid, planted)
        # Email: sends, and for engaged contacts opens and clicks.
        engaged = rng.random()
        for _ in range(rng.randint(0, 14)):
            at = as_of - dt.timedelta(seconds=rng.randrange(400 * 86400)) + dt.timedelta(days=3)
            at = max(at, signup)
            campaign = rng.choice(CAMPAIGNS)
            out["email_events"].append((cid, _ts(at), "send", campaign))
            if rng.random() < engaged:
                opened = at + dt.timedelta(minutes=rng.randrange(1, 3000))
                out["email_events"].append((cid, _ts(opened), "open", campaign))
                if rng.random() < 0.3:
                    clicked = opened + dt.timedelta(minutes=rng.randrange(1, 30))
                    out["email_events"].append((cid, _ts(clicked), "click", campaign))
        if consent is False and rng.random() < 0.3:
            at = as_of - dt.timedelta(days=rng.randrange(1, 300))
            out["email_events"].append((cid, _ts(at), "unsubscribe", "newsletter"))
        for _ in range(int(rng.expovariate(0.25))):
            at = as_of - dt.timedelta(seconds=rng.randrange(120 * 86400))
            path = rng.choice(PATHS)
            category = path.strip("/") if path.strip("/") in PRICE else None
            out["page_views"].append((cid, _ts(max(at, signup)), path, category))
        if rng.random() < 0.2:
            # Cart activity, often very recent (abandoned carts).
            for _ in range(rng.randint(1, 3)):
                ago = dt.timedelta(hours=rng.choice([2, 5, 10, 20, 30, 60, 200, 700]))
                cat = _pick(rng, CATEGORIES)
                price = round(rng.lognormvariate(0, 0.4) * PRICE[cat], 2)
                product = rng.choice(PRODUCTS[cat])
                row = (cid, _ts(as_of - ago), "add", product, f"{price:.2f}")
                out["cart_events"].append(row)
                if rng.random() < 0.3:
                    later = as_of - ago + dt.timedelta(minutes=rng.randrange(1, 90))
                    out["cart_events"].append((cid, _ts(later), "checkout", product, row[4]))
    return out


def _plant_conversion(
    orders: list[tuple[object, ...]], first: int, cid: int, rng: random.Random
) -> None:
    """An order in the experiment's window for some of its email arm: the audience is
    `purchases >= 1 and last_order > 60d` at the start, the arm `bucket(salt) >= 5000`."""
    from segql.backends.python.functions import bucket_of

    start = EXPERIMENT_START
    times = [dt.datetime.fromisoformat(str(o[2])) for o in orders[first:]]
    before = [t for t in times if t <= start]
    if not before or max(before) >= start - dt.timedelta(days=60):
        return
    if bucket_of(EXPERIMENT_SALT, cid) < 5000 or rng.random() >= EXPERIMENT_LIFT:
        return
    at = start + dt.timedelta(seconds=rng.randrange(1, 27 * 86400))
    amount = round(rng.lognormvariate(0, 0.5) * PRICE["apparel"], 2)
    row = (10**7 + cid, cid, _ts(at), f"{amount:.2f}", "apparel", PRODUCTS["apparel"][0])
    orders.append((*row, "web", False))


_TABLES = {
    "contacts": CONTACT_COLUMNS,
    "orders": ORDER_COLUMNS,
    "email_events": EMAIL_COLUMNS,
    "page_views": VIEW_COLUMNS,
    "cart_events": CART_COLUMNS,
}


def generate(
    target_dir: Path, *, contacts: int = 5000, seed: int = 7, as_of: dt.datetime = AS_OF
) -> Path:
    """Write the shop's tables as Parquet files into ``target_dir`` and return it.

    ``as_of`` anchors the generated history; a naive value is taken as UTC."""
    import duckdb

    if as_of.tzinfo is not None:
        as_of = as_of.astimezone(dt.UTC).replace(tzinfo=None)
    target_dir.mkdir(parents=True, exist_ok=True)
    rows = _rows(contacts, seed, as_of)
    con = duckdb.connect()
    try:
        for name, columns in _TABLES.items():
            staged = target_dir / f"{name}.csv.tmp"
            with staged.open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(columns)
                w.writerows(rows[name])
            types = ", ".join(
                f"'{c}': '{'VARCHAR' if c == 'tags' else t}'" for c, t in columns.items()
            )
            select = ", ".join(
                "CASE WHEN tags IS NULL THEN NULL ELSE string_split(tags, '|') END AS tags"
                if c == "tags"
                else f'"{c}"'
                for c in columns
            )
            out = str(target_dir / f"{name}.parquet").replace("'", "''")
            con.execute(
                f"COPY (SELECT {select} FROM read_csv(?, header = true, columns = {{{types}}}, "
                f"nullstr = '') ORDER BY ALL) TO '{out}' (FORMAT PARQUET)",
                [str(staged)],
            )
            staged.unlink()
    finally:
        con.close()
    return target_dir


def ensure_demo_data(cache_dir: Path | None = None) -> Path:
    """The demo data directory, generated on first use (atomically) and reused after."""
    from segql.core.fsutil import cache_dir as default_cache_dir

    base = cache_dir or default_cache_dir()
    target = base / VERSION
    if (target / "contacts.parquet").exists() and (target / "cart_events.parquet").exists():
        return target
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=base))
    try:
        generate(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "contacts.parquet").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
