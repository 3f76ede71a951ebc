"""models.yaml as a round-trip document.

Every edit goes through ruamel.yaml in round-trip mode so comments, key order and the formatting of
untouched parts survive byte for byte. A file whose formatting the editor could not reproduce is
refused before any edit, rather than silently reformatted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from modelops.core.metric_catalog import pairing_problem
from modelops.core.pipeline import DEFAULT_LIMITS, PipelineLimits, pipeline_problems
from modelops.core.rollback import RollbackPlan, already_rolled_back, plan_rollback
from modelops.core.state import (
    HISTORY_LIMIT,
    REQUIRED_ENVIRONMENTS,
    DesiredState,
    Environment,
    HistoryEntry,
    Model,
    is_reserved_alias,
    parse_state,
)
from modelops.core.verification import parse_stamp
from modelops.errors import BadInput, Denied

SCHEMA_COMMENT = "# yaml-language-server: $schema="
# models.yaml is a few kilobytes. These bounds keep a hostile file (an alias bomb, thousands of nested
# brackets) from costing minutes and gigabytes before it is refused: ruamel's scanner is quadratic in
# nesting depth and its composer recursive, and aliases expand when the document is read as plain data.
MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_NODES = 100_000


@dataclass(frozen=True)
class Problem:
    """One thing wrong with models.yaml: where (a dotted path and, when known, a line) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, filename: str) -> str:
        where = f"{filename}:{self.line}" if self.line else filename
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@cache
def schema() -> dict[str, Any]:
    text = resources.files("modelops").joinpath("schema/models.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> Any:
    """JSON Schema counts 2.0 as an integer; a registry version (or a traffic percent) is never 2.0."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: type(value) is int
    )
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(schema())


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    # An explicit `null` reads better than an empty value for "not pinned yet".
    y.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return y


def _check_shape(text: str, filename: str) -> None:
    """Refuse, before parsing, a file too large, too deeply nested or with too many aliases.

    It scans with libyaml's C scanner where PyYAML has it (ten times faster than ruamel's); both
    scanners name the same tokens."""
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        raise BadInput(f"{filename}: {size} bytes is over the {MAX_BYTES}-byte limit for models.yaml")
    scan, tokens, errors = _scanner()
    opening = (
        tokens.BlockMappingStartToken,
        tokens.BlockSequenceStartToken,
        tokens.FlowMappingStartToken,
        tokens.FlowSequenceStartToken,
    )
    closing = (tokens.BlockEndToken, tokens.FlowMappingEndToken, tokens.FlowSequenceEndToken)
    depth = aliases = 0
    try:
        # Tokens come lazily, so a hostile file is refused after its first few dozen tokens.
        for token in scan(text):
            if isinstance(token, opening):
                depth += 1
                if depth > MAX_DEPTH:
                    line = token.start_mark.line + 1
                    raise BadInput(f"{filename}:{line}: nested deeper than {MAX_DEPTH} levels")
            elif isinstance(token, closing):
                depth -= 1
            elif isinstance(token, tokens.AliasToken):
                aliases += 1
                if aliases > MAX_ALIASES:
                    line = token.start_mark.line + 1
                    raise BadInput(f"{filename}:{line}: more than {MAX_ALIASES} YAML aliases")
    except errors:
        return  # the parser that follows reports it, with its line


def _scanner() -> tuple[Callable[[str], Iterator[Any]], Any, type[Exception]]:
    """(scan, the token classes, the scanner's error) from libyaml when it is built in, else ruamel."""
    import yaml

    if hasattr(yaml, "CSafeLoader"):
        return (lambda text: yaml.scan(text, Loader=yaml.CSafeLoader)), yaml.tokens, yaml.YAMLError
    from ruamel.yaml import tokens
    from ruamel.yaml.error import YAMLError

    return _yaml().scan, tokens, YAMLError


class _TooLarge(Exception):
    pass


_SPELLINGS = {"HexInt": "in hexadecimal", "OctalInt": "in octal", "BinaryInt": "in binary"}


def _spelling_problems(node: Any, path: list[Any]) -> Iterator[Problem]:
    """Integers written other than in plain decimal (0x10, 0o7, 010, 1_000): ruamel keeps them as int
    subclasses that remember their spelling, and JSON Schema would count them as integers."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _spelling_problems(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _spelling_problems(value, [*path, index])
    elif isinstance(node, int) and not isinstance(node, bool) and type(node) is not int:
        how = _SPELLINGS.get(type(node).__name__, "with leading zeros or underscores")
        yield Problem(_dotted(path), f"{int(node)} is written {how}; write a plain decimal integer")


def _to_plain(node: Any, budget: list[int] | None = None) -> Any:
    """ruamel's commented containers to plain dicts/lists (for JSON Schema and the typed state).

    Aliases expand here, so `budget` (nodes left) bounds what a small file can grow into.
    """
    if budget is not None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLarge
    if isinstance(node, dict):
        return {str(k): _to_plain(v, budget) for k, v in node.items()}
    if isinstance(node, list):
        return [_to_plain(v, budget) for v in node]
    if isinstance(node, bool | int | float | str) or node is None:
        if isinstance(node, str):
            return str(node)
        if isinstance(node, bool):
            return bool(node)
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return node
    return str(node)


def _line_of(root: Any, path: list[Any]) -> int | None:
    """Best-effort 1-based line of a path in the round-trip tree."""
    node = root
    line: int | None = None
    for key in path:
        try:
            lc = node.lc
            line = (lc.item(key) if isinstance(key, int) else lc.key(key))[0] + 1
            node = node[key]
        except (AttributeError, KeyError, IndexError, TypeError):
            break
    return line


def _dotted(path: list[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


class ModelsDocument:
    """A parsed models.yaml that can be validated, read as typed state, edited and dumped."""

    def __init__(self, text: str, filename: str = "models.yaml") -> None:
        from ruamel.yaml.error import YAMLError

        self.filename = filename
        self.original = text
        # A file written with CRLF keeps CRLF: an edit changes its lines, not all of them.
        self.newline = "\r\n" if "\r\n" in text else "\n"
        text = text.replace("\r\n", "\n")
        _check_shape(text, filename)
        try:
            self.root = _yaml().load(text)
        except RecursionError:
            raise BadInput(f"{filename}: nested too deeply to read") from None
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{filename}:{mark.line + 1}" if mark is not None else filename
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise BadInput(f"{where}: not valid YAML: {problem}") from None
        if not isinstance(self.root, dict):
            raise BadInput(f"{filename}: expected a mapping at the top level")
        try:
            self.plain()
        except _TooLarge:
            raise BadInput(
                f"{filename}: more than {MAX_NODES} values once its aliases are expanded"
            ) from None

    @classmethod
    def load(cls, path: Path, shown_as: str | None = None) -> ModelsDocument:
        """Read `path`; errors name `shown_as` instead when the file sits in a throw-away worktree
        (`origin/main:models.yaml`), so no message points at a temp folder that is already gone."""
        name = shown_as or str(path)
        try:
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise BadInput(f"{name}: {size} bytes is over the {MAX_BYTES}-byte limit for models.yaml")
            text = path.read_bytes().decode("utf-8")  # as written: no newline translation
        except FileNotFoundError:
            raise BadInput(f"{name}: file not found") from None
        except UnicodeDecodeError:
            raise BadInput(f"{name}: not UTF-8 text") from None
        return cls(text, filename=name)

    # -- reading -----------------------------------------------------------------------------

    def plain(self) -> dict[str, Any]:
        plain: dict[str, Any] = _to_plain(self.root, [MAX_NODES])
        return plain

    def problems(self, limits: PipelineLimits = DEFAULT_LIMITS) -> list[Problem]:
        """Schema problems first; semantic rules only once the shape is right.

        `limits` come from the promotion policy (protected environments, the admission limit)."""
        data = self.plain()
        found = [
            Problem(p.path, p.message, _line_of(self.root, p.path.split(".")))
            for p in _spelling_problems(self.root, [])
        ]
        validator = _validator()
        for top in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
            # "not valid under any of the given schemas" names nothing; the deepest sub-error does.
            err = max(top.context, key=lambda e: len(e.absolute_path)) if top.context else top
            path = list(err.absolute_path)
            message = err.message
            if err.validator == "additionalProperties":
                message = f"unknown key: {message.split('(')[-1].rstrip(')')}"
            elif err.validator == "required":
                message = f"missing {message}"
            found.append(Problem(_dotted(path), message, _line_of(self.root, path)))
        if found:
            return found
        return [
            Problem(p.path, p.message, _line_of(self.root, p.path.split(".")))
            for p in semantic_problems(parse_state(data), limits)
        ]

    def pin_problems(self) -> list[Problem]:
        """What `validate` adds to `problems()`: pins made after another environment quarantined them."""
        return self._located(quarantine_problems(parse_state(self.plain())))

    def pin_warnings(self) -> list[Problem]:
        """What `validate` shows without refusing: pins older than another environment's quarantine."""
        return self._located(quarantine_warnings(parse_state(self.plain())))

    def _located(self, problems: list[Problem]) -> list[Problem]:
        return [Problem(p.path, p.message, _line_of(self.root, p.path.split("."))) for p in problems]

    def storage_uri_prefix(self) -> str:
        """Where the serving runtime reads versions from (`registry.storage_uri_prefix`)."""
        registry = self.plain().get("registry") or {}
        prefix = registry.get("storage_uri_prefix")
        if not prefix:
            raise BadInput(
                f"{self.filename}: registry.storage_uri_prefix is missing; set where versions are stored"
            )
        return str(prefix)

    def state(self) -> DesiredState:
        """The typed desired state; raises BadInput naming the first problem."""
        problems = self.problems()
        if problems:
            raise BadInput(problems[0].render(self.filename))
        return parse_state(self.plain())

    # -- writing -----------------------------------------------------------------------------

    def dump(self) -> str:
        buf = io.StringIO()
        _yaml().dump(self.root, buf)
        text = buf.getvalue()
        return text.replace("\n", self.newline) if self.newline != "\n" else text

    def check_round_trip(self) -> None:
        """Refuse to edit a file whose untouched parts the editor would reformat."""
        dumped = self.dump()
        if dumped == self.original:
            return
        for n, (a, b) in enumerate(zip(self.original.splitlines(), dumped.splitlines(), strict=False), 1):
            if a != b:
                raise BadInput(
                    f"{self.filename}:{n}: formatting the round-trip editor cannot preserve "
                    f"({a.strip()!r}); use 2-space mappings and '  - ' sequence items"
                )
        raise BadInput(f"{self.filename}: trailing formatting the round-trip editor cannot preserve")

    def _env_node(self, model: str, env: str) -> Any:
        try:
            return self.root["models"][model]["environments"][env]
        except (KeyError, TypeError):
            raise BadInput(f"{self.filename}: no environment models.{model}.environments.{env}") from None

    def _append_history(self, node: Any, entry: dict[str, Any]) -> None:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        item = CommentedMap(entry)
        item.fa.set_flow_style()
        history = node.get("history")
        if history is None:
            history = CommentedSeq()
            node["history"] = history
        history.append(item)
        while len(history) > HISTORY_LIMIT:
            del history[0]

    def _quarantine(self, node: Any, version: int) -> None:
        from ruamel.yaml.comments import CommentedSeq

        quarantined = node.get("quarantined")
        if quarantined is None:
            quarantined = CommentedSeq()
            node["quarantined"] = quarantined
        quarantined.fa.set_flow_style()
        if version not in quarantined:
            quarantined.append(version)

    def _set(self, node: Any, key: str, value: Any) -> None:
        from ruamel.yaml.comments import CommentedMap

        if isinstance(value, dict):
            cm = CommentedMap(value)
            cm.fa.set_flow_style()
            value = cm
        if key in node:
            node[key] = value
        else:
            node.insert(len(node), key, value)

    def promote(
        self,
        model: str,
        env: str,
        version: int,
        *,
        at: str,
        by: str,
        reason: str,
        ref: str | None = None,
        run_id: str | None = None,
        override: bool = False,
    ) -> None:
        """Pin `version` at 100 %: the old pin becomes the rollback target; any canary ends.

        `override`: a human brings back a version quarantined in another environment (recorded)."""
        node = self._env_node(model, env)
        current = node.get("version")
        if current == version:
            if node.get("canary"):
                self._set(node, "canary", None)
            return
        self._set(node, "previous", current)
        self._set(node, "version", version)
        if run_id is not None or "run_id" in node:
            self._set(node, "run_id", run_id)
        if node.get("canary") is not None:
            self._set(node, "canary", None)
        self._append_history(
            node,
            {
                "at": at,
                "by": by,
                "action": "promote",
                "from": current,
                "to": version,
                "reason": reason,
                "ref": ref,
                **({"override": True} if override else {}),
            },
        )

    def start_canary(
        self,
        model: str,
        env: str,
        version: int,
        traffic: int,
        *,
        at: str,
        by: str,
        reason: str,
        ref: str | None = None,
        run_id: str | None = None,
        override: bool = False,
    ) -> None:
        node = self._env_node(model, env)
        canary: dict[str, object] = {"version": version, "traffic": traffic}
        if run_id is not None:
            canary["run_id"] = run_id
        self._set(node, "canary", canary)
        self._append_history(
            node,
            {
                "at": at,
                "by": by,
                "action": "canary",
                "from": node.get("version"),
                "to": version,
                "reason": f"{traffic}% canary: {reason}",
                "ref": ref,
                **({"override": True} if override else {}),
            },
        )

    def rollback(
        self,
        model: str,
        env: str,
        *,
        at: str,
        by: str,
        reason: str,
        ref: str | None = None,
        bad_version: int | None = None,
        run_id: str | None = None,
        quarantine: bool = True,
    ) -> RollbackPlan | None:
        """Return to the rollback target and quarantine the bad version; the plan it applied.

        None, and nothing changes, when there is nothing left to do (`already_rolled_back`): a
        rollback is asked for again and again by one incident's re-sent alerts. A running canary is
        the newest change, so it is what a rollback undoes first. A drill rolls back a good version
        on purpose, so it does not quarantine it.
        """
        environment = parse_state(self.plain()).model(model).env(env)
        if already_rolled_back(environment, ref, bad_version) is not None:
            return None
        plan = plan_rollback(environment, bad_version)
        node = self._env_node(model, env)
        if plan.drops_canary:
            self._set(node, "canary", None)
        else:
            self._set(node, "version", plan.to_version)
            if run_id is not None or "run_id" in node:
                self._set(node, "run_id", run_id)
            self._set(node, "previous", plan.new_previous)
        if quarantine:
            self._quarantine(node, plan.from_version)
        self._append_history(
            node,
            {
                "at": at,
                "by": by,
                "action": "rollback",
                "from": plan.from_version,
                "to": plan.to_version,
                "reason": reason,
                "ref": ref,
            },
        )
        return plan


def iter_environments(state: DesiredState) -> Iterator[tuple[str, str]]:
    for model in state.models.values():
        for env in model.environments:
            yield model.name, env


def semantic_problems(state: DesiredState, limits: PipelineLimits = DEFAULT_LIMITS) -> list[Problem]:
    """Rules JSON Schema cannot say."""
    found: list[Problem] = []
    for model in state.models.values():
        base = f"models.{model.name}"
        # Without a declared pipeline, the environments are today's fixed pair.
        if not any(e.upstream is not None for e in model.environments.values()):
            for required in REQUIRED_ENVIRONMENTS:
                if required not in model.environments:
                    found.append(Problem(f"{base}.environments", f"missing environment {required!r}"))
        found.extend(Problem(p.path, p.message) for p in pipeline_problems(model, limits))
        aliases: dict[str, str] = {}
        for env in model.environments.values():
            at = f"{base}.environments.{env.name}"
            if env.alias in aliases:
                found.append(Problem(f"{at}.alias", f"alias {env.alias!r} also used by {aliases[env.alias]}"))
            aliases[env.alias] = env.name
            if is_reserved_alias(env.alias):
                found.append(Problem(f"{at}.alias", f"alias {env.alias!r} is reserved"))
            if env.previous is not None and env.previous == env.version:
                found.append(Problem(f"{at}.previous", f"previous must differ from version ({env.version})"))
            if env.version is not None and env.version in env.quarantined:
                found.append(
                    Problem(f"{at}.version", f"version {env.version} is quarantined and cannot be pinned")
                )
            if env.canary is not None:
                if env.version is None:
                    found.append(
                        Problem(f"{at}.canary", "a canary needs a pinned version to share traffic with")
                    )
                if env.canary.version == env.version:
                    found.append(
                        Problem(f"{at}.canary.version", f"canary {env.canary.version} is already pinned")
                    )
                if env.canary.version in env.quarantined:
                    found.append(
                        Problem(f"{at}.canary.version", f"version {env.canary.version} is quarantined")
                    )
                if not 0 < env.canary.traffic < 100:
                    found.append(Problem(f"{at}.canary.traffic", "must be between 1 and 99"))
        if model.train.backend == "argo":
            argo = model.train.argo
            for name, value in (
                ("namespace", argo.namespace),
                ("template", argo.template),
                ("image", argo.image),
            ):
                if not value:
                    found.append(Problem(f"{base}.train.argo.{name}", "required when train.backend is argo"))
        pairing = pairing_problem(model.gate.task, model.gate.primary_metric)
        if pairing:
            found.append(Problem(f"{base}.gate.primary_metric", f"{pairing}; set gate.task or pick one"))
        drift = model.drift
        if drift.psi_watch >= drift.psi_drift:
            found.append(Problem(f"{base}.drift.psi_watch", "must be below psi_drift"))
        for step in model.canary_steps:
            if step >= 100:
                found.append(Problem(f"{base}.promotion.canary_steps", f"step {step} must be below 100"))
    return found


def quarantine_problems(state: DesiredState) -> list[Problem]:
    """Pins of a version quarantined in another environment of the model, made after that quarantine
    with no recorded override.

    Only `validate` (and so CI) reports these: a rollback in staging may quarantine what production
    still serves, and every other command, the production rollback first of all, must go on reading
    the file."""
    return [problem for problem, predates in _pins_quarantined_elsewhere(state) if not predates]


def quarantine_warnings(state: DesiredState) -> list[Problem]:
    """Pins made before another environment quarantined the version: that environment's rollback
    said nothing about this one, so they are shown, not refused. Refusing them would fail `validate`
    on every pull request until someone rolled this environment back too."""
    return [problem for problem, predates in _pins_quarantined_elsewhere(state) if predates]


def _pins_quarantined_elsewhere(state: DesiredState) -> Iterator[tuple[Problem, bool]]:
    for model in state.models.values():
        for env in model.environments.values():
            elsewhere = model.quarantined_anywhere() - set(env.quarantined)
            pins = (("version", env.version), ("canary.version", env.canary.version if env.canary else None))
            for what, pinned in pins:
                if pinned is None or pinned not in elsewhere:
                    continue
                pin = _pinning_entry(env, pinned)
                if pin is not None and pin.override:
                    continue
                where = f"models.{model.name}.environments.{env.name}.{what}"
                since = _first_quarantine(model, pinned)
                pinned_at = parse_stamp(pin.at) if pin is not None else None
                if since is not None and pinned_at is not None and pinned_at < since[0]:
                    _, by_env, at = since
                    message = (
                        f"version {pinned} still serves here, pinned before {by_env} quarantined it at {at}; "
                        f"roll it back here too (modelops rollback --model {model.name} --env {env.name})"
                    )
                    yield Problem(where, message), True
                else:
                    message = (
                        f"version {pinned} is quarantined in another environment; roll it back here "
                        "too, or pin it only through a recorded override (propose --override-reason)"
                    )
                    yield Problem(where, message), False


def _pinning_entry(env: Environment, version: int) -> HistoryEntry | None:
    """The history entry that pinned `version` here, the newest first."""
    for entry in reversed(env.history):
        if entry.action in ("promote", "canary") and entry.to == version:
            return entry
    return None


def _first_quarantine(model: Model, version: int) -> tuple[datetime, str, str] | None:
    """(when, environment, its timestamp) of the first rollback away from `version` among the
    environments that quarantined it."""
    found: list[tuple[datetime, str, str]] = []
    for env in model.environments.values():
        if version not in env.quarantined:
            continue
        for entry in env.history:
            when = parse_stamp(entry.at)
            if entry.action == "rollback" and entry.from_ == version and when is not None:
                found.append((when, env.name, entry.at))
                break
    return min(found) if found else None


def require_not_quarantined(state: DesiredState, model: str, version: int) -> None:
    if version in state.model(model).quarantined_anywhere():
        raise Denied(
            f"{model} v{version} is quarantined (rolled back before); only a human override may bring it back"
        )


def edits_commute(base: str, ours: str, theirs: str, merged: str) -> bool:
    """True when `merged` is `theirs` plus exactly our edit of `base`: the two edits changed different
    models, neither changed anything outside `models:`, and the merge kept both.

    This judges a lost push race in milliseconds, so it reads with PyYAML's C loader instead of the
    round-trip parser; a file with anchors or aliases, or one it cannot read, is never judged
    commuting, and the caller falls back to re-applying its change on the new tip."""
    docs = [_plain_models(text) for text in (base, ours, theirs, merged)]
    if any(doc is None for doc in docs):
        return False
    (b_rest, b), (o_rest, o), (t_rest, t), (m_rest, m) = docs  # type: ignore[misc]
    if not b_rest == o_rest == t_rest == m_rest:
        return False
    ours_changed = {name for name in {*b, *o} if b.get(name) != o.get(name)}
    theirs_changed = {name for name in {*b, *t} if b.get(name) != t.get(name)}
    if ours_changed & theirs_changed:
        return False
    expected = dict(t)
    for name in ours_changed:
        if name in o:
            expected[name] = o[name]
        else:
            expected.pop(name, None)
    return bool(m == expected)


def _plain_models(text: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(everything but `models`, `models`) as plain data, or None when the text is not judged here."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if len(text.encode("utf-8")) > MAX_BYTES:
        return None
    try:
        # Scanning is the slow part; a text with neither '&' nor '*' cannot hold an anchor or alias.
        if ("&" in text or "*" in text) and any(
            isinstance(token, yaml.AnchorToken | yaml.AliasToken) for token in yaml.scan(text, Loader=loader)
        ):
            return None
        doc = yaml.load(text, Loader=loader)  # a safe loader, chosen above
    except (yaml.YAMLError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict):
        return None
    return {k: v for k, v in doc.items() if k != "models"}, doc["models"]
