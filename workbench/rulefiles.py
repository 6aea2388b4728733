"""Rule files: the JSON that `workbench rules discover` writes and `rules check` reads, of
the three kinds of rules: Declare constraints, a temporal profile, a log skeleton."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from workbench.rules import TEMPLATES, UNARY, Rule, RulesError, named_activities
from workbench.skeleton import Skeleton
from workbench.temporal_profile import DEFAULT_ZETA, Gap

#: The kinds of rules a file holds.
KINDS: Final = ("declare", "temporal-profile", "log-skeleton")


@dataclass(frozen=True)
class RuleFile:
    """Rules as a file holds them: Declare rules, a temporal profile with its zeta, or a
    log skeleton."""

    kind: str
    rules: list[Rule] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    zeta: float = DEFAULT_ZETA
    skeleton: Skeleton | None = None


def write(
    found: Sequence[Rule] | Sequence[Gap] | Skeleton,
    path: Path | None = None,
    *,
    log: str | None = None,
    zeta: float | None = None,
) -> str:
    """Rules as JSON (``{"kind": "declare", "log": ..., "rules": [...]}``; kind
    ``temporal-profile`` with its ``zeta`` and its pairs; kind ``log-skeleton`` with its
    relations and counts), written to ``path`` if given."""
    data: dict[str, Any]
    if isinstance(found, Skeleton):
        data = {"kind": "log-skeleton", "log": log, **found.as_dict()}
    else:
        profile = bool(found) and isinstance(found[0], Gap)
        data = {"kind": "temporal-profile" if profile else "declare", "log": log}
        if profile:
            data["zeta"] = DEFAULT_ZETA if zeta is None else zeta
        data["rules"] = [item.as_dict() for item in found]
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if path is not None:
        path.write_text(text + "\n", encoding="utf-8")
    return text


def read(path: Path) -> RuleFile:
    """Rules from a JSON file as `write` writes them, or written by hand: ``{"rules":
    [{"template": "response", "activities": ["A", "B"]}, ...]}`` (or the list alone), or
    ``{"kind": "temporal-profile", "zeta": 6, "rules": [{"activities": ["A", "B"],
    "mean_seconds": 3600, "stdev_seconds": 600}]}``, or ``{"kind": "log-skeleton",
    "always_after": [["A", "B"]], ..., "activ_freq": {"A": [1]}}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RulesError(f"{path}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RulesError(f"{path}: not JSON ({error})") from None
    kind = data.get("kind", "declare") if isinstance(data, dict) else "declare"
    if kind not in KINDS:
        raise RulesError(f"{path}: kind {kind!r}: the kinds are {', '.join(KINDS)}")
    if kind == "log-skeleton":
        return RuleFile(kind, skeleton=Skeleton.from_dict(data, str(path)))
    items = data.get("rules") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise RulesError(f'{path}: expected {{"rules": [...]}}')
    if kind == "temporal-profile":
        zeta = data.get("zeta", DEFAULT_ZETA)
        if not isinstance(zeta, int | float) or isinstance(zeta, bool) or zeta < 0:
            raise RulesError(f"{path}: zeta {zeta!r}: give a number of deviations, 0 or more")
        return RuleFile(kind, gaps=_gaps(path, items), zeta=float(zeta))
    rules = []
    for number, item in enumerate(items, start=1):
        where = f"{path}: rule {number}"
        if not isinstance(item, dict):
            raise RulesError(f"{where}: expected an object with template and activities")
        template = item.get("template")
        if template not in TEMPLATES:
            raise RulesError(f"{where}: template {template!r} is not one of {', '.join(TEMPLATES)}")
        acts = named_activities(where, item, 1 if template in UNARY else 2, str(template))
        support, confidence = item.get("support"), item.get("confidence")
        rules.append(
            Rule(
                template,
                acts,
                support if isinstance(support, int) else None,
                confidence if isinstance(confidence, int) else None,
            )
        )
    if len({rule.key for rule in rules}) != len(rules):
        raise RulesError(f"{path}: a rule is there twice")
    return RuleFile(kind, rules=rules)


def _gaps(path: Path, items: list[Any]) -> list[Gap]:
    gaps = []
    for number, item in enumerate(items, start=1):
        where = f"{path}: pair {number}"
        if not isinstance(item, dict):
            raise RulesError(f"{where}: expected an object with activities, mean_seconds ...")
        a, b = named_activities(where, item, 2, "a temporal profile's pair")
        values = []
        for name in ("mean_seconds", "stdev_seconds"):
            value = item.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise RulesError(f"{where}: {name} {value!r}: give seconds, 0 or more")
            values.append(float(value))
        observations = item.get("observations")
        gaps.append(
            Gap((a, b), values[0], values[1], observations if isinstance(observations, int) else 0)
        )
    if len({gap.activities for gap in gaps}) != len(gaps):
        raise RulesError(f"{path}: a pair is there twice")
    return gaps
