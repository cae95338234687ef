"""The exports a run writes: checklists and HDF only for Sphere servers."""

from __future__ import annotations

from sample_run import make_meta

from sphere_stig import catalog, inventory
from sphere_stig.exporters.run import export_run
from sphere_stig.outcome import Status
from sphere_stig.results import Result


def test_a_run_without_stig_results_leaves_no_empty_folders(tmp_path):
    # Given a run limited to a domain controller: port rows only
    (tmp_path / "inv.yml").write_text(
        "hosts:\n  dc9: {address: 127.0.0.65, roles: [domain_controller]}\n"
    )
    hosts = inventory.load(str(tmp_path / "inv.yml"), tmp_path, catalog.load_roles())
    port_row = Result(
        kind="port", id="LST-04", host="dc9", status=Status.PASS, summary="s"
    )
    report_dir = tmp_path / "reports" / "20261204T000000Z"
    report_dir.mkdir(parents=True)

    problems = export_run(report_dir, hosts, [port_row], make_meta())

    assert problems == []
    assert list(report_dir.iterdir()) == []
