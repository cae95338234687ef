"""The pytest plugin: inventory options, test generation, outcomes and reports.

Loaded by the repository's ``conftest.py``. Without ``--inventory`` it does
nothing, so the project's own tests run beside it untouched.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sphere_stig import __version__, catalog, gate, redact
from sphere_stig.allure_labels import RULE_LINK, register_host_label_fix
from sphere_stig.answers import (
    AnswerBook,
    AnswersError,
    WaiverBook,
    load_answers,
    load_waivers,
)
from sphere_stig.collectors.netprobe import forget_probes
from sphere_stig.evaluate import connections_used, inputs_used
from sphere_stig.exporters.run import export_run
from sphere_stig.inventory import (
    Host,
    Inventory,
    InventoryError,
    available,
    check_references,
    load,
)
from sphere_stig.official import (
    OfficialBenchmark,
    OfficialTextError,
    load_official,
    revision_changes,
)
from sphere_stig.outcome import CheckError, CollectionError, Status, Verdict
from sphere_stig.results import PROPERTY, Result, write_json

log = logging.getLogger(__name__)

CAT_MARKERS = {"high": "cat1", "medium": "cat2", "low": "cat3"}


@dataclass(frozen=True)
class Case:
    """One generated test: a rule, port row or requirement on one host."""

    kind: str  # "stig", "port" or "requirement"
    entry: catalog.Rule | catalog.PortRow | catalog.Requirement
    host: Host

    @property
    def id(self) -> str:
        if isinstance(self.entry, catalog.Rule):
            return self.entry.vuln_id
        return self.entry.id

    @property
    def roles(self) -> tuple[str, ...]:
        if isinstance(self.entry, catalog.PortRow):
            return self.entry.target_roles
        return self.entry.roles

    def __repr__(self) -> str:
        # Shown by pytest and Allure as the parameter value.
        return f"{self.id}@{self.host.name}"


@dataclass
class RunState:
    inventory: Inventory
    report_dir: Path | None
    started: dt.datetime
    fail_on: frozenset[str] = frozenset()
    answers: AnswerBook | None = None
    waivers: WaiverBook | None = None
    official: OfficialBenchmark | None = None
    revision_notes: tuple[str, ...] = ()
    run_by: str = field(
        default_factory=lambda: f"{getpass.getuser()}@{socket.gethostname()}"
    )
    decision: gate.Decision | None = None
    # Tests selected for the run, and whether it was cut short (Ctrl-C).
    selected: int = 0
    interrupted: bool = False
    exported: list[str] = field(default_factory=list)
    rule_link: str = RULE_LINK
    results: list[Result] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


# Options whose value is a path (see _settings_not_found).
PATH_OPTIONS = (
    "--inventory",
    "--answers",
    "--waivers",
    "--stig-xccdf",
    "--reports-dir",
)

STATE = pytest.StashKey[RunState]()
VERDICT = pytest.StashKey[Verdict]()
CASE = pytest.StashKey[Case]()
DECISIONS = pytest.StashKey[tuple]()


def _targets_infra_tests(config: pytest.Config) -> bool:
    infra = Path(config.rootpath, "tests_infra").resolve()
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == infra or infra in path.parents:
            return True
    return False


def _settings_not_found(config: pytest.Config) -> str:
    """Why pytest missed pyproject.toml, and the fix.

    pytest picks its root directory from the arguments that look like
    paths, before it knows this suite's options: in ``--stig-xccdf
    /downloads/file.xml`` the file counts as a path to test, and outside
    the repository it moves the root away from pyproject.toml.
    """
    args = list(config.invocation_params.args)
    two_words = [
        f"{arg}={args[i + 1]}"
        for i, arg in enumerate(args[:-1])
        if arg in PATH_OPTIONS and not args[i + 1].startswith("-")
    ]
    fix = (
        f"write {', '.join(two_words)} (with '=')"
        if two_words
        else "write path options with '=' (--stig-xccdf=PATH) and run pytest "
        "from the repository root"
    )
    return (
        "pytest found no pyproject.toml, so the suite's settings are missing "
        f"(root directory taken: {config.rootpath}). A path option written as two "
        "words makes pytest take the path for a folder to test; "
        f"{fix}."
    )


def _only_informs(config: pytest.Config) -> bool:
    """--help, --markers, --fixtures: they collect nothing, so need no inventory."""
    option = config.option
    return any(
        getattr(option, name, False) for name in ("help", "markers", "showfixtures")
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    # Each session probes the ports afresh: the project's own tests run
    # several sessions in one process, against servers that change between.
    forget_probes()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, text in (
        ("cat1", "CAT I (high severity) STIG rules"),
        ("cat2", "CAT II (medium severity) STIG rules"),
        ("cat3", "CAT III (low severity) STIG rules"),
        ("stig", "a STIG rule on a host"),
        ("ports", "a port and protocol table row on a host"),
        ("requirements", "an authentication, certificate or remote-agent requirement"),
        ("manual", "a rule that needs a reviewer's answer"),
    ):
        config.addinivalue_line("markers", f"{name}: {text}")
    if _only_informs(config):
        return
    if config.inipath is None:
        raise pytest.UsageError(_settings_not_found(config))
    name = config.getoption("inventory")
    if not name:
        if _targets_infra_tests(config):
            raise pytest.UsageError(
                "tests_infra/ checks an inventory: run pytest --inventory NAME "
                f"(inventories: {', '.join(_inventory_names(config))})"
            )
        return
    try:
        fail_on = gate.parse(config.getoption("fail_on"))
    except gate.GateError as exc:
        raise pytest.UsageError(str(exc)) from None
    directory = Path(config.rootpath, config.getini("sphere_inventory_dir"))
    try:
        loaded = load(name, directory, catalog.ROLES)
        inventory = loaded.limited(config.getoption("limit"))
        # A missing secret or CA file would otherwise turn every test of the
        # host into the same error.
        check_references(inventory, connections_used, inputs_used)
    except InventoryError as exc:
        raise pytest.UsageError(f"inventory error: {exc}") from None

    # Host patterns are checked against every host, not only the --limit ones.
    answers, waivers, official = _load_decisions(config, loaded)
    started = dt.datetime.now(dt.UTC)
    report_dir = None
    if not _is_worker(config) and not config.option.collectonly:
        base = config.getoption("reports_dir") or Path(config.rootpath, "reports")
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
        report_dir = Path(base, inventory.name, stamp).resolve()
        report_dir.mkdir(parents=True, exist_ok=True)
        _route_reports(config, report_dir)
    state = RunState(
        inventory, report_dir, started, fail_on, answers, waivers, official
    )
    state.rule_link = config.getini("sphere_rule_link")
    if getattr(config.option, "allure_report_dir", None):
        register_host_label_fix()
    if official is not None:
        state.revision_notes = tuple(
            c.describe() for c in revision_changes(official, catalog.load_rules())
        )
    config.stash[STATE] = state
    if report_dir is not None:
        config.pluginmanager.register(
            RunRecorder(config, state, report_dir), "sphere-stig-run"
        )
        if config.pluginmanager.hasplugin("html"):
            from sphere_stig.html_report import HtmlReport

            config.pluginmanager.register(HtmlReport(state), "sphere-stig-html")


def _load_decisions(config: pytest.Config, inventory: Inventory):
    """Answers, waivers and the official text: all checked before any test runs."""
    answers_path = config.getoption("answers") or inventory.answers
    waivers_path = config.getoption("waivers") or inventory.waivers
    xccdf = config.getoption("stig_xccdf")
    # By name with their roles: a pattern must match a host, and an entry
    # must match a host its rule applies to.
    hosts = {h.name: h.roles for h in inventory.hosts}
    try:
        answers = (
            load_answers(Path(answers_path), hosts=hosts) if answers_path else None
        )
        waivers = (
            load_waivers(Path(waivers_path), hosts=hosts) if waivers_path else None
        )
    except AnswersError as exc:
        raise pytest.UsageError(f"answers/waivers error: {exc}") from None
    try:
        official = load_official(Path(xccdf)) if xccdf else None
    except OfficialTextError as exc:
        raise pytest.UsageError(f"--stig-xccdf: {exc}") from None
    return answers, waivers, official


def _route_reports(config: pytest.Config, report_dir: Path) -> None:
    """Point pytest-html, JUnit and Allure at the run's folder, unless told otherwise."""
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(report_dir / "report.html")
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(report_dir / "junit.xml")
    if hasattr(option, "allure_report_dir") and not option.allure_report_dir:
        option.allure_report_dir = str(report_dir / "allure-results")


def _cases(config: pytest.Config, kind: str) -> list[Case]:
    state = config.stash.get(STATE, None)
    if state is None:
        return []
    entries: tuple[catalog.Rule | catalog.PortRow | catalog.Requirement, ...]
    if kind == "stig":
        entries = catalog.load_rules()
    elif kind == "port":
        entries = catalog.load_ports()
    else:
        entries = catalog.load_requirements()
    cases = (
        Case(kind, entry, host) for entry in entries for host in state.inventory.hosts
    )
    return [case for case in cases if case.host.has_role(*case.roles)]


def _param(case: Case) -> Any:
    marks = [pytest.mark.xdist_group(case.host.name)]
    if isinstance(case.entry, catalog.Rule):
        marks += [
            pytest.mark.stig,
            getattr(pytest.mark, CAT_MARKERS[case.entry.severity]),
        ]
        if case.entry.manual:
            marks.append(pytest.mark.manual)
    elif case.kind == "port":
        marks.append(pytest.mark.ports)
    else:
        marks.append(pytest.mark.requirements)
    return pytest.param(case, id=f"{case.id}-{case.host.name}", marks=marks)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, kind in (
        ("stig_case", "stig"),
        ("port_case", "port"),
        ("requirement_case", "requirement"),
    ):
        if fixture in metafunc.fixturenames:
            if STATE not in metafunc.config.stash:
                raise pytest.UsageError(
                    "these tests check an inventory: run pytest --inventory NAME "
                    f"(inventories: {', '.join(_inventory_names(metafunc.config))})"
                )
            metafunc.parametrize(
                fixture, [_param(c) for c in _cases(metafunc.config, kind)]
            )


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Drop the tests of a kind that applies to no selected host.

    ``--limit dc1`` leaves no Sphere server, so the STIG rules have no case;
    pytest would show that as a skip with its own wording ("got empty
    parameter set"), which reads like a result. Deselected, it is not one.
    """
    if STATE not in config.stash:
        return
    empty = [item for item in items if _has_no_case(item)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


def _has_no_case(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    fixtures = getattr(item, "fixturenames", ())
    return any(
        name in fixtures and not isinstance(params.get(name), Case)
        for name in ("stig_case", "port_case", "requirement_case")
    )


def _inventory_names(config: pytest.Config) -> list[str]:
    directory = Path(config.rootpath, config.getini("sphere_inventory_dir"))
    return available(directory) or ["(none)"]


def record_verdict(
    item: pytest.Item,
    case: Case,
    verdict: Verdict,
    answer: dict | None = None,
    waiver: dict | None = None,
) -> None:
    """Called by the verdict fixtures: remember what the check concluded."""
    item.stash[CASE] = case
    item.stash[VERDICT] = verdict
    item.stash[DECISIONS] = (answer, waiver)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    case = item.stash.get(CASE, None)
    if case is None:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        case = (
            params.get("stig_case")
            or params.get("port_case")
            or params.get("requirement_case")
        )
    if case is None:
        return report
    result = _result_for(case, item, call, report)
    if result is not None and result.status is Status.ERROR:
        # The reason is the message; a traceback through the collector
        # would bury it.
        report.longrepr = redact.scrub(result.summary)
    if result is not None:
        report.user_properties.append((PROPERTY, json.dumps(result.to_json())))
    return report


def _result_for(case: Case, item, call, report) -> Result | None:
    verdict = item.stash.get(VERDICT, None)
    if report.when == "setup" and report.failed:
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, CollectionError | CheckError | InventoryError):
            reason = str(exc)
        else:
            reason = f"internal error: {type(exc).__name__}: {exc}"
        if not reason.startswith(f"{case.host.name}:"):
            reason = f"{case.host.name}: {reason}"
        return _make(case, item, Status.ERROR, reason, (), report)
    if verdict is None:
        return None
    if report.when == "setup" and report.skipped or report.when == "call":
        return _make(
            case, item, verdict.status, verdict.summary, verdict.evidence, report
        )
    return None


def _make(case: Case, item, status, summary, evidence, report) -> Result:
    entry = case.entry
    answer, waiver = item.stash.get(DECISIONS, (None, None))
    state = item.config.stash.get(STATE, None)
    official = state.official if state is not None else None
    meta: dict[str, Any]
    if isinstance(entry, catalog.Rule):
        official_rule = official.rules.get(entry.vuln_id) if official else None
        meta = dict(
            severity=entry.severity,
            title=official_rule.title if official_rule else entry.title,
            stig_id=entry.stig_id,
            rule_id=entry.rule_id,
            check=entry.check,
            ccis=tuple(entry.ccis),
        )
    elif isinstance(entry, catalog.PortRow):
        meta = dict(
            title=f"{entry.source} -> {entry.target} {entry.protocols} {entry.port_text}",
            check=entry.check,
        )
    else:
        meta = dict(title=" ".join(entry.statement.split()), check=entry.check)
    return Result(
        kind=case.kind,
        id=case.id,
        host=case.host.name,
        status=status,
        summary=summary,
        evidence=tuple(evidence),
        nodeid=item.nodeid,
        duration=report.duration,
        answer=answer,
        waiver=waiver,
        **meta,
    )


class RunRecorder:
    """The controller's side of a run: gathers every result (also from xdist
    workers), streams it to disk, applies the gate, writes the exports and
    the closing lines. Registered only on the controller of a real run."""

    def __init__(
        self, config: pytest.Config, state: RunState, report_dir: Path
    ) -> None:
        self.config = config
        self.state = state
        self.report_dir = report_dir

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == PROPERTY:
                result = Result.from_json(json.loads(str(value)))
                self.state.results.append(result)
                self._stream(result)

    def _stream(self, result: Result) -> None:
        """Each result is on disk the moment it is known: an interrupted run keeps it."""
        with open(self.report_dir / "results.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(result.to_json()) + "\n")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.state.selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids: list[str]) -> None:
        # Under xdist the controller collects nothing; every worker has the
        # same selection.
        self.state.selected = len(ids)

    def pytest_keyboard_interrupt(self) -> None:
        # Known before the reports are written, so each of them can say so.
        self.state.interrupted = True

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        state = self.state
        state.interrupted |= exitstatus == pytest.ExitCode.INTERRUPTED
        state.decision = gate.decide(state.results, state.fail_on)
        # The gate decides between "tests failed" and "ok"; an interrupted run,
        # a usage error or an internal error keeps pytest's own status.
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            session.exitstatus = (
                pytest.ExitCode.TESTS_FAILED
                if state.decision.failed
                else pytest.ExitCode.OK
            )
        state.meta = run_meta(self.config, state)
        write_json(state.results, self.report_dir / "results.json", state.meta)
        state.exported = export_run(
            self.report_dir, state.inventory, state.results, state.meta, state.official
        )

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """The run's last terminal lines: the gate, the counts, where the reports are."""
        state = self.state
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        counts: dict[str, int] = {}
        for r in state.results:
            key = "Error" if r.status is Status.ERROR else r.ckl_status
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        where = self.report_dir
        if where.is_relative_to(Path.cwd()):
            where = where.relative_to(Path.cwd())
        if state.exported:
            reporter.write_line(
                f"sphere-stig: checklist validator found {len(state.exported)} "
                "problem(s), see checklist-validation.txt"
            )
        for note in state.revision_notes:
            reporter.write_line(f"sphere-stig: XCCDF differs from the catalog: {note}")
        if state.interrupted:
            reporter.write_line(f"sphere-stig: {interrupted_line(state)}")
        if not state.selected:
            reporter.write_line(
                "sphere-stig: no test selected (see -k, -m and --limit): nothing was "
                "checked, so there is no verdict"
            )
        elif state.decision is not None:
            line = state.decision.line(state.fail_on)
            if state.interrupted:
                line = f"no verdict; among the results it has, {line}"
            reporter.write_line(f"sphere-stig: {line}")
        reporter.write_line(
            f"sphere-stig: {summary or 'no results'}; reports in {where}/"
        )


def interrupted_line(state: RunState) -> str:
    """What an interrupted run has, for the terminal and the HTML report."""
    return (
        f"INTERRUPTED: {len(state.results)} of {state.selected} selected tests have "
        "a result; the reports hold only those, so run again for a verdict"
    )


def run_meta(config: pytest.Config, state: RunState) -> dict:
    return {
        "inventory": state.inventory.name,
        "inventory_file": str(state.inventory.path),
        "limit": config.getoption("limit") or "",
        "hosts": [h.name for h in state.inventory.hosts],
        "started": state.started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_by": state.run_by,
        "suite_version": __version__,
        "benchmark": catalog.BENCHMARK.model_dump(),
        "fail_on": sorted(state.fail_on),
        "answers_file": str(state.answers.path) if state.answers else "",
        "waivers_file": str(state.waivers.path) if state.waivers else "",
        "official_text": state.official.filename if state.official else "",
        "revision_changes": list(state.revision_notes),
        "selected": state.selected,
        "interrupted": state.interrupted,
    }
