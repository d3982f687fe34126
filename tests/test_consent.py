"""Consent and privacy (CONTRACT §8, docs/privacy.md): `channels:` in the schema, the
reach of a segment per channel, channel exports with hashed addresses, and exports that hold
exactly the columns asked for — on every engine, compared with an independent computation
over the corpus contacts (tests/corpus_data.py)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from corpus_data import AS_OF, CONTACT_COLUMNS, CONTACTS
from test_engines import DATA, _is_clickhouse, _schema, db, duck_file, reference

import segql
from segql.core.schema import AddressKind, ChannelDef
from segql.engines.consent import hashed, normalized

SHARED_FIXTURES = (db, duck_file, reference)  # every engine, as in test_engines.py
COLUMNS = [c for c, _ in CONTACT_COLUMNS]
PEOPLE = {r[0]: dict(zip(COLUMNS, r, strict=True)) for r in CONTACTS}
BUYERS = {1, 2, 4, 5}  # purchases >= 1
CHANNELS = {"email": ("email", "email_consent"), "sms": ("phone", "sms_consent")}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def expected_reach(ids: set[int], channel: str) -> dict[str, set[int]]:
    """Each member by the first reason that applies: consent, then address."""
    address, consent = CHANNELS[channel]
    out: dict[str, set[int]] = {"reachable": set(), "no_consent": set(), "no_address": set()}
    for i in ids:
        p = PEOPLE[i]
        if p[consent] is not True:
            out["no_consent"].add(i)
        elif p[address] is None:
            out["no_address"].add(i)
        else:
            out["reachable"].add(i)
    return out


# Normalized by hand from the corpus rows (docs/privacy.md): contact 5's phone is "",
# which has no normalized form, so a hashed export leaves it out.
HASHED = {
    "email": {1: sha("ann@example.com"), 4: sha("it's%_@x.com")},
    "sms": {1: sha("33612345678"), 2: sha("33612345679")},
}


# --- normalization -----------------------------------------------------------------------
EMAIL = ChannelDef(name="email", address="email", consent="c", kind=AddressKind.EMAIL)
PHONE = ChannelDef(name="sms", address="phone", consent="c", kind=AddressKind.PHONE)
PHONE_FR = ChannelDef(
    name="sms", address="phone", consent="c", kind=AddressKind.PHONE, country_code="33"
)
TOKEN = ChannelDef(name="push", address="token", consent="c")


@pytest.mark.parametrize(
    ("channel", "address", "form"),
    [
        (EMAIL, "  Ann.Smith@Example.COM\t", "ann.smith@example.com"),
        (EMAIL, "\u00a0ÉLODIE@Exemple.FR\n", "élodie@exemple.fr"),  # a no-break space
        (EMAIL, "ZOË+news@Mail.de", "zoë+news@mail.de"),
        (EMAIL, "   ", None),
        (EMAIL, "not an address", None),
        (PHONE, "+33 (0)6 12 34 56 78", "33612345678"),
        (PHONE, "0033 6.12.34.56.78", "33612345678"),
        (PHONE, "+1 (555) 010-9999", "15550109999"),
        (PHONE, " +44 20 7946 0958 ", "442079460958"),
        (PHONE, "+49/30/1234567", "49301234567"),
        (PHONE, "06 12 34 56 78", None),  # no country code, none configured
        (PHONE_FR, "06 12 34 56 78", "33612345678"),
        (PHONE_FR, "6 12 34 56 78", "33612345678"),
        (PHONE_FR, "+44 20 7946 0958", "442079460958"),  # its own code wins
        (PHONE, "+33 6 12 34 56 78 ext. 5", None),  # letters
        (PHONE, "+33 6", None),  # too short
        (PHONE, "+33 6123 4567 8901 2345", None),  # more than 15 digits
        (PHONE, "+０６１２３４５６７８", None),  # full-width digits
        (PHONE, "+0 612345678", None),  # no country code starts with 0
        (PHONE, "", None),
        (TOKEN, " Tok-EN ", " Tok-EN "),  # `none`: as stored
        (TOKEN, "", None),
    ],
)
def test_normalization_and_hash_match_an_independent_hashlib(
    channel: ChannelDef, address: str, form: str | None
) -> None:
    assert normalized(address, channel) == form
    assert hashed(address, channel) == (None if form is None else sha(form))
    assert hashed(None, channel) is None


def test_the_normalization_defaults_from_the_names() -> None:
    from segql.config.channels import default_kind

    assert default_kind("email", "address") is AddressKind.EMAIL
    assert default_kind("newsletter", "mail") is AddressKind.EMAIL
    assert default_kind("sms", "number") is AddressKind.PHONE
    assert default_kind("whatsapp", "contact") is AddressKind.PHONE
    assert default_kind("crm", "mobile") is AddressKind.PHONE
    assert default_kind("push", "token") is AddressKind.NONE
    assert default_kind("email", "phone") is AddressKind.EMAIL  # the channel's name first


# --- the schema file ---------------------------------------------------------------------
_YAML = """\
entity:
  table: contacts
  key: id
  fields: {email: string, phone: string, email_consent: boolean, sms_consent: boolean}
channels:
  email: {address: email, consent: email_consent, description: Newsletter}
  sms: {address: phone, consent: sms_consent, country_code: "+33"}
  crm: {address: email, consent: email_consent, normalize: none}
"""
_TOML = """\
[entity]
table = "contacts"
key = "id"
fields = {email = "string", phone = "string", email_consent = "boolean", sms_consent = "boolean"}

[channels.email]
address = "email"
consent = "email_consent"
description = "Newsletter"

[channels.sms]
address = "phone"
consent = "sms_consent"
country_code = 33

[channels.crm]
address = "email"
consent = "email_consent"
normalize = "none"
"""


@pytest.mark.parametrize("fmt", ["yaml", "toml", "json"])
def test_channels_load_alike_from_every_format(fmt: str, tmp_path: Path) -> None:
    import yaml

    text = {
        "yaml": _YAML,
        "toml": _TOML,
        "json": json.dumps(yaml.safe_load(_YAML)),
    }[fmt]
    path = tmp_path / f"schema.{fmt}"
    path.write_text(text, encoding="utf-8")
    schema = segql.load_schema(path)
    got = {
        n: (c.address, c.consent, c.kind, c.country_code, c.description)
        for n, c in schema.channels.items()
    }
    assert got == {
        "email": ("email", "email_consent", AddressKind.EMAIL, None, "Newsletter"),
        "sms": ("phone", "sms_consent", AddressKind.PHONE, "33", None),
        "crm": ("email", "email_consent", AddressKind.NONE, None, None),
    }
    assert schema.channels["sms"].where.span is not None
    assert schema.channels["sms"].where.span.line == {"yaml": 7, "toml": 11, "json": 1}[fmt]


def test_a_catalog_cannot_declare_channels(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(_YAML, encoding="utf-8")
    cat = tmp_path / "c.yaml"
    cat.write_text("channels: {}\nsegments: {a: {where: 'true'}}\n", encoding="utf-8")
    with pytest.raises(segql.SegqlError) as info:
        segql.load_schema(tmp_path / "s.yaml", catalogs=[cat])
    assert info.value.code == "schema-unknown-key"
    assert "schema file" in info.value.diagnostic.hints[0]


def test_reachable_by_without_channels_says_how_to_declare_one() -> None:
    schema = segql.load_schema(
        {"entity": {"table": "c", "key": "id", "fields": {"email": "string"}}}
    )
    (d,) = segql.check("reachable_by('email')", schema)
    assert d.code == "unknown-channel"
    assert "declares no channels" in d.message
    assert "channels: {email: {address: email, consent: email_consent}}" in d.hints[0]


def test_reachable_by_in_process_is_never_unknown() -> None:
    schema = DATA.schema
    for i, row in PEOPLE.items():
        p = {k: v for k, v in row.items() if k != "First Name"}  # a column, not a field
        for channel in CHANNELS:
            want = i in expected_reach({i}, channel)["reachable"]
            assert segql.matches(f"reachable_by('{channel}')", schema, contact=p) is want
            assert segql.matches(f"not reachable_by('{channel}')", schema, contact=p) is not want


def test_repl_completes_channel_names() -> None:
    from segql.tools.repl.completion import complete

    schema = DATA.schema
    word, cands = complete("age > 3 and reachable_by(", schema)
    assert (word, [c.text for c in cands]) == ("", ["'email'", "'sms'"])
    word, cands = complete("reachable_by('s", schema)
    assert (word, [c.text for c in cands]) == ("'s", ["'sms'"])
    assert "phone" in cands[0].meta
    _, cands = complete("reach", schema)
    assert [c.text for c in cands] == ["reachable_by("]


# --- every engine ------------------------------------------------------------------------
@pytest.mark.parametrize("channel", ["email", "sms"])
@pytest.mark.parametrize(("expr", "ids"), [("true", set(PEOPLE)), ("purchases >= 1", BUYERS)])
def test_reach_counts_each_member_once_by_its_first_reason(
    db: Any, channel: str, expr: str, ids: set[int]
) -> None:
    schema = _schema(_is_clickhouse(db))
    reach = db.reach(expr, schema, channel, as_of=AS_OF)
    want = expected_reach(ids, channel)
    assert reach.to_json() == {
        "channel": channel,
        "members": len(ids),
        **{k: len(v) for k, v in want.items()},
    }
    assert reach.members == reach.reachable + reach.left_out
    assert sorted(db.member_ids(f"({expr}) and reachable_by('{channel}')", schema,
                                as_of=AS_OF)) == sorted(want["reachable"])  # fmt: skip


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_channel_members_have_the_address_last_hashed_or_not(db: Any, channel: str) -> None:
    schema = _schema(_is_clickhouse(db))
    address, _ = CHANNELS[channel]
    plain = db.members("true", schema, as_of=AS_OF, fields=["age"], channel=channel)
    assert plain.column_names == ["id", "age", address]
    want = expected_reach(set(PEOPLE), channel)["reachable"]
    assert {r["id"]: r[address] for r in plain.to_pylist()} == {i: PEOPLE[i][address] for i in want}
    got = db.members("true", schema, as_of=AS_OF, channel=channel, hash="sha256")
    assert got.column_names == ["id", address]
    assert {r["id"]: r[address] for r in got.to_pylist()} == HASHED[channel]


FORMATS = ["csv", "jsonl", "parquet"]


def _read(path: Path, fmt: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The column names and rows of an export file, by key."""
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        rows = list(reader)
        return list(reader.fieldnames or []), sorted(rows, key=lambda r: int(r["id"]))
    if fmt == "jsonl":
        rows = [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines()]
        names = list(rows[0]) if rows else []
        assert all(list(r) == names for r in rows)
        return names, sorted(rows, key=lambda r: r["id"])
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.column_names, sorted(table.to_pylist(), key=lambda r: r["id"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_hashed_channel_exports_equal_hashlib(db: Any, fmt: str, tmp_path: Path) -> None:
    schema = _schema(_is_clickhouse(db))
    path = tmp_path / f"sms.{fmt}"
    n = db.export("true", schema, path, format=fmt, as_of=AS_OF, fields=["country"],
                  channel="sms", hash="sha256")  # fmt: skip
    names, rows = _read(path, fmt)
    assert n == len(rows) == 2
    assert names == ["id", "country", "phone"]
    assert {int(r["id"]): r["phone"] for r in rows} == HASHED["sms"]
    assert [r["country"] for r in rows] == ["DE", "US"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("fields", "channel", "columns"),
    [
        ([], None, ["id"]),
        (["age", "purchases as n"], None, ["id", "age", "n"]),
        ([], "email", ["id", "email"]),
        (["value_class", "first_name"], "email", ["id", "value_class", "first_name", "email"]),
    ],
)
def test_an_export_holds_exactly_the_columns_asked_for(
    db: Any, reference: Any, fmt: str, fields: list[str], channel: str | None,
    columns: list[str], tmp_path: Path,
) -> None:  # fmt: skip
    schema = _schema(_is_clickhouse(db))
    ours, theirs = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    kw: dict[str, Any] = {"format": fmt, "as_of": AS_OF, "fields": fields, "channel": channel}
    n = db.export("purchases >= 1", schema, ours, **kw)
    m = reference.export("purchases >= 1", DATA.schema, theirs, **kw)
    names, rows = _read(ours, fmt)
    assert names == columns
    assert (names, rows) == _read(theirs, fmt)
    want = BUYERS if channel is None else expected_reach(BUYERS, channel)["reachable"]
    assert n == m == len(rows) == len(want)
    assert {int(r["id"]) for r in rows} == want
    table = db.members("purchases >= 1", schema, as_of=AS_OF, fields=fields, channel=channel)
    assert table.column_names == columns


def test_bad_channel_exports_are_clear_errors(db: Any) -> None:
    schema = _schema(_is_clickhouse(db))
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"hash": "sha256"}, "bad-export", "name the channel"),
        ({"channel": "email", "hash": "md5"}, "bad-export", "unknown hash `md5`"),
        ({"channel": "emial"}, "unknown-channel", "unknown channel `emial`"),
        ({"channel": "email", "fields": ["email"]}, "bad-fields", "address of channel"),
        ({"channel": "email", "fields": ["age as email"]}, "bad-fields", "address of channel"),
    ]
    for kw, code, words in cases:
        with pytest.raises(segql.SegqlError) as info:
            db.members("true", schema, as_of=AS_OF, **kw)
        assert info.value.code == code and words in info.value.diagnostic.message, kw
    with pytest.raises(segql.SegqlError) as info:
        db.reach("true", schema, "emial", as_of=AS_OF)
    assert info.value.diagnostic.hints[0] == "did you mean `email`?"


# --- the command line --------------------------------------------------------------------
def test_cli_channel_export_says_who_was_left_out(duck_file: Path, tmp_path: Path) -> None:
    from test_cli import CATALOG, SCHEMA, run

    args = ["--schema", str(SCHEMA), "--catalog", str(CATALOG), "--db", str(duck_file),
            "--as-of", "2026-06-01T12:00:00"]  # fmt: skip
    out = tmp_path / "sms.csv"
    r = run("members", "true", *args, "--channel", "sms", "--hash", "sha256", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "exported 2 members reachable by sms; left out 4 of 6: 2 without consent, "
        "1 without an address, 1 whose address could not be normalized for hashing"
    )
    names, rows = _read(out, "csv")
    assert names == ["id", "phone"]
    assert {int(r["id"]): r["phone"] for r in rows} == HASHED["sms"]
    r = run("members", "@buyers", *args, "--channel", "email", "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert [json.loads(ln) for ln in r.stdout.splitlines()] == [
        {"id": 1, "email": "ann@example.com"}, {"id": 4, "email": "it's%_@x.com"}
    ]  # fmt: skip
    assert r.stderr.strip().splitlines()[-1] == (
        "exported 2 members reachable by email; left out 2 of 4: 2 without consent, "
        "0 without an address"
    )
    r = run("members", "true", *args, "--hash", "sha256")
    assert r.returncode == 2 and "give --channel too" in r.stderr
    r = run("members", "true", *args, "--channel", "fax")
    assert r.returncode == 1 and "unknown channel `fax`" in r.stderr
    assert "Traceback" not in r.stderr
