"""``experiments:`` in schema and catalog files (CONTRACT §6.5): the audience, the start,
the salt, weighted arms, the goal and its window."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from segql.config.nodes import Node
from segql.config.reading import is_empty
from segql.config.sources import SourcesReader
from segql.core.schema import ArmDef, ExperimentDef

__all__ = ["EXPERIMENT_KEYS", "ExperimentsReader"]

EXPERIMENT_KEYS = ("audience", "start", "salt", "arms", "goal", "window", "description")
_WINDOW = re.compile(r"\s*(\d{1,6})\s*(h|d|w|mo)\s*")
EXAMPLE = (
    "for example `spring_promo: {audience: lapsed_vip, start: 2026-03-01T00:00:00Z, "
    "arms: {control: 10, email: 90}, goal: has orders, window: 14d}`"
)


class ExperimentsReader(SourcesReader):
    experiments: dict[str, ExperimentDef]

    def read_experiments(self, node: Node) -> None:
        """``experiments:``, into ``self.experiments``."""
        if is_empty(node):
            return
        if not self.mapping(node, "`experiments` must be a mapping of names to experiments"):
            return
        for k, v in node.entries:
            if not self.name_ok(k, "experiment"):
                continue
            got = self.experiment(k, v)
            if got is not None:
                self.experiments[got.name] = got

    def experiment(self, key: Node, node: Node) -> ExperimentDef | None:
        name = str(key.value)
        what = f"experiment `{name}`"
        if not node.is_map:
            self.report("schema-bad-value", f"{what} must be a mapping", node, EXAMPLE)
            return None
        self.check_keys(node, EXPERIMENT_KEYS, what, {})
        missing = [k for k in ("audience", "start", "arms", "goal", "window") if not node.get(k)]
        for k in missing:
            self.report("schema-missing-key", f"{what} has no `{k}:`", key, EXAMPLE)
        if missing:
            return None
        audience = self.expression(_node(node, "audience"), f"the audience of {what}")
        goal = self.expression(_node(node, "goal"), f"the goal of {what}")
        start = self.instant(_node(node, "start"), f"the start of {what}")
        window = self.window(_node(node, "window"), f"the window of {what}")
        arms = self.arms(_node(node, "arms"), what)
        salt: str | None = name
        salt_node = node.get("salt")
        if salt_node is not None:
            salt = self.string(salt_node, f"the salt of {what}")
        description = self.description(node, what)
        if None in (audience, goal, start, window, arms, salt):
            return None
        assert audience and goal and start and window and arms and salt
        return ExperimentDef(
            name=name,
            audience=audience[0],
            audience_where=audience[1],
            start=start,
            salt=salt,
            arms=arms,
            goal=goal[0],
            goal_where=goal[1],
            window=window[0],
            window_text=window[1],
            description=description,
            where=key.located(),
        )

    def instant(self, node: Node, what: str) -> dt.datetime | None:
        """A timestamp (UTC unless it has a zone) or a date (midnight UTC)."""
        from segql.config.project import parse_as_of

        value = node.value
        if isinstance(value, dt.datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
            return aware.astimezone(dt.UTC)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        text = node.string()
        if text is not None:
            try:
                return parse_as_of(text)
            except ValueError:
                pass
        self.report(
            "schema-bad-value",
            f"{what} must be a time, e.g. `2026-03-01T00:00:00Z` or `2026-03-01`",
            node,
        )
        return None

    def window(self, node: Node, what: str) -> tuple[tuple[int, str], str] | None:
        text = node.string()
        m = _WINDOW.fullmatch(text or "")
        if m is None or int(m.group(1)) == 0:
            self.report(
                "schema-bad-value",
                f"{what} must be a positive duration in hours, days, weeks or months",
                node,
                "e.g. `14d`, `2w`, `1mo`",
            )
            return None
        return (int(m.group(1)), m.group(2)), f"{int(m.group(1))}{m.group(2)}"

    def arms(self, node: Node, what: str) -> tuple[ArmDef, ...] | None:
        if not self.mapping(
            node,
            f"the `arms` of {what} must be a mapping of arm names to weights",
            "for example `arms: {control: 10, email_a: 45, email_b: 45}`",
        ):
            return None
        out: list[ArmDef] = []
        for k, v in node.entries:
            if not self.name_ok(k, "arm"):
                return None
            weight = _weight(v)
            if weight is None:
                self.report(
                    "schema-bad-value",
                    f"the weight of arm `{k.value}` of {what} must be a positive number",
                    v,
                )
                return None
            out.append(ArmDef(name=str(k.value), weight=weight))
        if len(out) < 2:
            self.report(
                "schema-bad-value",
                f"{what} needs at least two arms: a control and a treatment",
                node,
                "the first arm is the one the others are compared with",
            )
            return None
        return tuple(out)


def _node(node: Node, key: str) -> Node:
    got = node.get(key)
    assert got is not None
    return got


def _weight(node: Node) -> Decimal | None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    if not d.is_finite() or d <= 0 or d > 10**9:
        return None
    return d
