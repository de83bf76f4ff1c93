"""Assignment specs: what an assignment asks, how close is close enough, and what each check is worth.

Each assignment is one TOML file: the kit's in ``grader/specs/``, an instructor's own anywhere (``grader check
--spec FILE_OR_FOLDER``, or $GRADER_SPECS); this module reads them into frozen dataclasses.
A spec says the model and the loss, the parameters and the data, the names of the functions students
write, the training regime, and which of the grader's checks it uses (``grader.check.CHECKS``, the one
list of checks) with their points and tolerances.  Adding an assignment means adding a file there (plus a
skeleton and a solution), never editing the grader.
"""

from __future__ import annotations

import keyword
import math
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from grader.errors import SpecError, UsageError
from grader.i18n import _, language
from grader.formula import Formula, FormulaError

SPEC_DIR = Path(__file__).with_name("specs")

# The functions students write, by role; a spec's [functions] table names each (by default, its role).
ROLES = ("forward", "loss")
# How training updates the parameters.  per_sample: one update per sample, in data order.
REGIMES = ("per_sample",)


@dataclass(frozen=True)
class Tolerance:
    """``observed`` is close to ``expected`` when ``|observed - expected| <= atol + rtol * |expected|``."""

    rtol: float
    atol: float

    def close(self, observed: float | None, expected: float) -> bool:
        if observed is None or not math.isfinite(observed):
            return False
        return abs(observed - expected) <= self.atol + self.rtol * abs(expected)

    def describe(self) -> str:
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    points: float
    tolerance: Tolerance


@dataclass(frozen=True)
class ProbeSpec:
    """Where the hidden probes draw parameters and inputs (uniformly, rounded to multiples of ``grid``)."""

    count: int
    parameter_range: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    grid: float


@dataclass(frozen=True)
class Spec:
    name: str
    title: str
    model: Formula
    loss: Formula
    parameters: tuple[tuple[str, float], ...]
    x: tuple[float, ...]
    y: tuple[float, ...]
    learning_rate: float
    epochs: int
    probe_x: float
    probes: ProbeSpec
    checks: tuple[CheckSpec, ...]
    filename_hints: tuple[str, ...]
    time_limit: float
    source: Path
    titles: tuple[tuple[str, str], ...] = ()  # (language, title) besides the English one
    function_names: tuple[tuple[str, str], ...] = tuple((role, role) for role in ROLES)  # (role, name)
    regime: str = "per_sample"

    def title_in(self, lang: str | None = None) -> str:
        return dict(self.titles).get(lang or language(), self.title)

    @property
    def functions(self) -> dict[str, str]:
        """Role ("forward", "loss") -> the name students must give that function."""
        return dict(self.function_names)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parameters)

    @property
    def initial(self) -> dict[str, float]:
        return dict(self.parameters)

    @property
    def samples(self) -> int:
        return len(self.x)

    @property
    def total_steps(self) -> int:
        return self.epochs * self.samples

    @property
    def max_steps(self) -> int:
        """Backward passes the child records; past that it only counts them (a loop that never ends)."""
        return self.total_steps * 4 + 100

    @property
    def in_kit(self) -> bool:
        """Whether this is one of the kit's own assignments (grader/specs/), not an instructor's."""
        return self.source.resolve().parent == SPEC_DIR.resolve()

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    def grades(self, check_id: str) -> bool:
        """Whether the spec uses this check (a spec lists only the checks it uses)."""
        return any(check.id == check_id for check in self.checks)

    def check(self, check_id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)


def _require(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise SpecError(f"{where}: missing key {key!r}")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(_KIND_WORDS.get(k, k.__name__) for k in kinds)
        raise SpecError(f"{where}: {key!r} should be {wanted}, not {value!r}")
    return value


_KIND_WORDS = {int: "a whole number", float: "a number", str: "text in quotes", list: "a list [...]",
               dict: "a table"}


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        raise SpecError(f"{where}: expected [low, high]")
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise SpecError(f"{where}: low must be below high")
    return low, high


def _known_checks() -> tuple[str, ...]:
    """The ids of the checks the grader can run, in report order: the keys of ``grader.check.CHECKS``.
    Imported here, not at the top: check.py reads Spec, so spec.py cannot import it while loading."""
    from grader.check import CHECKS

    return tuple(CHECKS)


def _checks(table: Any, where: str) -> tuple[CheckSpec, ...]:
    """The checks a spec uses, from its [checks.<id>] tables, in the registry's order."""
    known = _known_checks()
    if not isinstance(table, dict):
        raise SpecError(f"{where}: 'checks' must hold one [checks.<id>] table per check")
    unknown = [check_id for check_id in table if check_id not in known]
    if unknown:
        raise SpecError(f"{where}: unknown checks {sorted(unknown)}; known: {', '.join(known)}")
    if not table:
        raise SpecError(f"{where}: the spec uses no check; add a [checks.<id>] table, from: {', '.join(known)}")
    checks = []
    for check_id in (c for c in known if c in table):
        here = f"{where} [checks.{check_id}]"
        entry = _require(table, check_id, dict, where + " [checks]")
        checks.append(CheckSpec(
            id=check_id,
            points=float(_require(entry, "points", (int, float), here)),
            tolerance=Tolerance(float(entry.get("rtol", 0.0)), float(entry.get("atol", 0.0))),
        ))
    return tuple(checks)


def _functions(data: Mapping[str, Any], where: str) -> tuple[tuple[str, str], ...]:
    """(role, name) for each role: the [functions] table's names, each role's own name by default."""
    table = data.get("functions", {})
    if not isinstance(table, dict):
        raise SpecError(f"{where}: [functions] must be a table of role = \"name\"")
    unknown = [role for role in table if role not in ROLES]
    if unknown:
        raise SpecError(f"{where}: unknown function roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    names = tuple((role, table.get(role, role)) for role in ROLES)
    for role, name in names:
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            raise SpecError(f"{where} [functions]: {role} = {name!r} is not a Python function name")
    if len({name for _, name in names}) != len(names):
        raise SpecError(f"{where} [functions]: each role needs a name of its own")
    return names


def _regime(training: Mapping[str, Any], where: str) -> str:
    regime = training.get("regime", "per_sample")
    if regime not in REGIMES:
        raise SpecError(f"{where} [training]: regime {regime!r} is not supported; supported: "
                        f"{', '.join(REGIMES)} (one update per sample, in data order)")
    return regime


def _formulas(data: Mapping[str, Any], parameters: tuple[tuple[str, float], ...], where: str) -> tuple[Formula, Formula]:
    """The model (of x and the parameters) and the loss (of y_pred and y)."""
    try:
        model = Formula.parse(_require(data, "model", str, where))
        loss = Formula.parse(_require(data, "loss", str, where))
    except FormulaError as exc:
        raise SpecError(f"{where}: {exc}") from None
    names = {name for name, _ in parameters}
    if model.names - names - {"x"}:
        raise SpecError(f"{where}: the model reads unknown names {sorted(model.names - names - {'x'})}")
    if loss.names - {"y_pred", "y"}:
        raise SpecError(f"{where}: the loss may read only y_pred and y")
    return model, loss


def _parameters(data: Mapping[str, Any], where: str) -> tuple[tuple[str, float], ...]:
    table = _require(data, "parameters", dict, where)
    parameters = tuple((str(k), float(_require(table, k, (int, float), where))) for k in table)
    if not parameters:
        raise SpecError(f"{where}: an assignment needs at least one parameter")
    return parameters


def _samples(data: Mapping[str, Any], where: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    table = _require(data, "data", dict, where)
    xs = tuple(float(v) for v in _require(table, "x", list, where + " [data]"))
    ys = tuple(float(v) for v in _require(table, "y", list, where + " [data]"))
    if not xs or len(xs) != len(ys):
        raise SpecError(f"{where}: data x and y must be non-empty and of equal length")
    return xs, ys


def _probes(data: Mapping[str, Any], where: str) -> ProbeSpec:
    probes = _require(data, "probes", dict, where)
    return ProbeSpec(
        count=_require(probes, "count", int, where + " [probes]"),
        parameter_range=_pair(probes.get("parameter_range"), where + " [probes] parameter_range"),
        x_range=_pair(probes.get("x_range"), where + " [probes] x_range"),
        y_range=_pair(probes.get("y_range"), where + " [probes] y_range"),
        grid=float(probes.get("grid", 0.125)),
    )


def parse_spec(data: Mapping[str, Any], source: Path) -> Spec:
    """Build a Spec from the TOML table of one assignment, or raise SpecError saying what is wrong."""
    where = str(source)
    parameters = _parameters(data, where)
    model, loss = _formulas(data, parameters, where)
    xs, ys = _samples(data, where)
    training = _require(data, "training", dict, where)
    probes = _probes(data, where)
    checks = _checks(data.get("checks", {}), where)
    epochs = _require(training, "epochs", int, where + " [training]")
    if epochs < 1:
        raise SpecError(f"{where}: epochs must be at least 1")
    return Spec(
        name=_require(data, "name", str, where),
        title=_require(data, "title", str, where),
        model=model,
        loss=loss,
        parameters=parameters,
        x=xs,
        y=ys,
        learning_rate=float(_require(training, "learning_rate", (int, float), where)),
        epochs=epochs,
        probe_x=float(_require(training, "probe_x", (int, float), where)),
        probes=probes,
        checks=checks,
        filename_hints=tuple(str(h) for h in data.get("filename_hints", [])),
        time_limit=float(data.get("time_limit", 10.0)),
        source=source,
        titles=tuple((k[len("title_"):], str(v)) for k, v in data.items() if k.startswith("title_")),
        function_names=_functions(data, where),
        regime=_regime(training, where),
    )


def load_spec(path: Path) -> Spec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"cannot read assignment spec {path}: {exc}") from None
    spec = parse_spec(data, path)
    if spec.name != path.stem:
        raise SpecError(f"{path}: the spec's name {spec.name!r} must match its file name")
    return spec


def load_folder(directory: Path) -> tuple[Spec, ...]:
    """Every spec file of a folder, by file name, read now."""
    return tuple(load_spec(path) for path in sorted(directory.glob("*.toml")))


@lru_cache(maxsize=None)
def all_specs(directory: Path = SPEC_DIR) -> tuple[Spec, ...]:
    """Every assignment of a folder (the kit's by default), sorted by name; read once per process."""
    return load_folder(directory)


def get_spec(name: str, directory: Path = SPEC_DIR) -> Spec:
    return find_spec(name, all_specs(directory))


def find_spec(name: str, specs: tuple[Spec, ...]) -> Spec:
    for spec in specs:
        if spec.name == name:
            return spec
    raise UsageError(_("unknown assignment {name!r}; the assignments are: {listing}").format(
        name=name, listing=", ".join(s.name for s in specs)))


SPECS_ENV = "GRADER_SPECS"  # an instructor's spec files or folders, separated by os.pathsep


def course_specs(paths: Sequence[str | Path] = ()) -> tuple[Spec, ...]:
    """The kit's assignments and an instructor's own, kept outside the package: each path (``--spec``,
    then $GRADER_SPECS) a spec file or a folder of them.  Two assignments with one name are refused."""
    extra = [*paths, *(p for p in os.environ.get(SPECS_ENV, "").split(os.pathsep) if p.strip())]
    specs = {spec.name: spec for spec in all_specs()}
    for path in map(Path, extra):
        if path.is_dir():
            found = load_folder(path)  # read afresh: an instructor edits these between commands
            if not found:
                raise UsageError(_("{path}: no assignment spec (*.toml) in this folder").format(path=path))
        elif path.is_file():
            found = (load_spec(path),)
        else:
            raise UsageError(_("{path}: no such spec file or folder").format(path=path))
        for spec in found:
            if spec.name in specs and specs[spec.name].source != spec.source:
                raise SpecError(f"two assignments are named {spec.name!r}: {specs[spec.name].source} and "
                                f"{spec.source}; rename one (its name and its file name)")
            specs[spec.name] = spec
    return tuple(sorted(specs.values(), key=lambda spec: spec.name))
