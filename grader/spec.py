"""Assignment specs: what an assignment asks, how close is close enough, and what each check is worth.

Each assignment is one TOML file in ``grader/specs/``; this module reads them into frozen dataclasses.
Adding an assignment means adding a file there (plus a skeleton and a solution), never editing the grader.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from grader.errors import SpecError, UsageError
from grader.i18n import _, language
from grader.formula import Formula, FormulaError

SPEC_DIR = Path(__file__).with_name("specs")

# The checks the grader knows how to run, in report order.  A spec gives each its points and tolerance.
CHECK_IDS = ("forward", "loss", "first_epoch_grads", "training", "final_prediction", "runs", "plot")


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

    def title_in(self, lang: str | None = None) -> str:
        return dict(self.titles).get(lang or language(), self.title)

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
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    def check(self, check_id: str) -> CheckSpec:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(check_id)

    def to_json(self) -> dict[str, Any]:
        """The part of the spec the child process needs to observe a run."""
        return {
            "name": self.name,
            "parameters": list(self.param_names),
            "initial": self.initial,
            "probe_x": self.probe_x,
            "max_steps": self.max_steps,
            "epochs": self.epochs,
        }


def _require(table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise SpecError(f"{where}: missing key {key!r}")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise SpecError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _pair(value: Any, where: str) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)):
        raise SpecError(f"{where}: expected [low, high]")
    low, high = float(value[0]), float(value[1])
    if not low < high:
        raise SpecError(f"{where}: low must be below high")
    return low, high


def parse_spec(data: Mapping[str, Any], source: Path) -> Spec:
    """Build a Spec from the TOML table of one assignment, or raise SpecError saying what is wrong."""
    where = str(source)
    try:
        model = Formula.parse(_require(data, "model", str, where))
        loss = Formula.parse(_require(data, "loss", str, where))
    except FormulaError as exc:
        raise SpecError(f"{where}: {exc}") from None
    params_table = _require(data, "parameters", dict, where)
    parameters = tuple((str(k), float(_require(params_table, k, (int, float), where))) for k in params_table)
    if not parameters:
        raise SpecError(f"{where}: an assignment needs at least one parameter")
    names = {name for name, _ in parameters}
    if model.names - names - {"x"}:
        raise SpecError(f"{where}: the model reads unknown names {sorted(model.names - names - {'x'})}")
    if loss.names - {"y_pred", "y"}:
        raise SpecError(f"{where}: the loss may read only y_pred and y")
    data_table = _require(data, "data", dict, where)
    xs = tuple(float(v) for v in _require(data_table, "x", list, where + " [data]"))
    ys = tuple(float(v) for v in _require(data_table, "y", list, where + " [data]"))
    if not xs or len(xs) != len(ys):
        raise SpecError(f"{where}: data x and y must be non-empty and of equal length")
    training = _require(data, "training", dict, where)
    probes = _require(data, "probes", dict, where)
    checks_table = _require(data, "checks", dict, where)
    checks = []
    for check_id in CHECK_IDS:
        table = _require(checks_table, check_id, dict, where + " [checks]")
        checks.append(
            CheckSpec(
                id=check_id,
                points=float(_require(table, "points", (int, float), f"{where} [checks.{check_id}]")),
                tolerance=Tolerance(float(table.get("rtol", 0.0)), float(table.get("atol", 0.0))),
            )
        )
    unknown = set(checks_table) - set(CHECK_IDS)
    if unknown:
        raise SpecError(f"{where}: unknown checks {sorted(unknown)}; known: {', '.join(CHECK_IDS)}")
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
        probes=ProbeSpec(
            count=_require(probes, "count", int, where + " [probes]"),
            parameter_range=_pair(probes.get("parameter_range"), where + " [probes] parameter_range"),
            x_range=_pair(probes.get("x_range"), where + " [probes] x_range"),
            y_range=_pair(probes.get("y_range"), where + " [probes] y_range"),
            grid=float(probes.get("grid", 0.125)),
        ),
        checks=tuple(checks),
        filename_hints=tuple(str(h) for h in data.get("filename_hints", [])),
        time_limit=float(data.get("time_limit", 10.0)),
        source=source,
        titles=tuple((k[len("title_"):], str(v)) for k, v in data.items() if k.startswith("title_")),
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


@lru_cache(maxsize=None)
def all_specs(directory: Path = SPEC_DIR) -> tuple[Spec, ...]:
    """Every assignment, sorted by name."""
    return tuple(load_spec(path) for path in sorted(directory.glob("*.toml")))


def get_spec(name: str, directory: Path = SPEC_DIR) -> Spec:
    specs = all_specs(directory)
    for spec in specs:
        if spec.name == name:
            return spec
    raise UsageError(_("unknown assignment {name!r}; the assignments are: {listing}").format(
        name=name, listing=", ".join(s.name for s in specs)))
