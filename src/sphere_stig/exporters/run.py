"""Everything a finished run leaves for auditors besides the pytest reports."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sphere_stig.exporters.checklist import ChecklistAsset, write_checklists
from sphere_stig.exporters.hdf import write_hdf_reports
from sphere_stig.exporters.validate import validate_ckl, validate_cklb
from sphere_stig.inventory import Inventory
from sphere_stig.official import OfficialBenchmark
from sphere_stig.results import Result


def export_run(
    report_dir: Path,
    inventory: Inventory,
    results: Sequence[Result],
    meta: dict,
    official: OfficialBenchmark | None = None,
) -> list[str]:
    """Checklists and HDF for every host with STIG results, each validated.

    Returns the problems the validator found in the files just written
    (empty when they are clean); they are also kept in
    ``checklist-validation.txt`` beside the reports.
    """
    stamp = report_dir.name
    stig_results = [r for r in results if r.kind == "stig"]
    hosts = {r.host for r in stig_results}
    assets = [ChecklistAsset.from_host(h) for h in inventory.hosts if h.name in hosts]
    problems: list[str] = []
    if not assets:
        # A run without a Sphere server (--limit dc1, -m ports) has no
        # checklist to write: no empty folders either.
        return problems
    checklists = report_dir / "checklists"
    checklists.mkdir(exist_ok=True)
    for path in write_checklists(
        checklists, assets, stig_results, official, stamp=stamp
    ):
        validate = validate_ckl if path.suffix == ".ckl" else validate_cklb
        problems += [
            f"{path.name}: {p.level} {p.code} {p.message}"
            for p in validate(path.read_bytes())
        ]
    hdf = report_dir / "hdf"
    hdf.mkdir(exist_ok=True)
    write_hdf_reports(hdf, meta, stig_results, official, stamp=stamp)
    if problems:
        (report_dir / "checklist-validation.txt").write_text(
            "\n".join(problems) + "\n", encoding="utf-8"
        )
    return problems
