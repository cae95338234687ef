"""ports.yml: both port tables of the STIG overview, row by row.

The overview (reference/isec7-sphere-stig-overview.txt in the shared folder)
prints Table 1-1 with one row and Table 1-2 with 42, the last two after a page
break under a repeated header.
"""

import re
from collections import Counter

import pytest

from sphere_stig import catalog
from sphere_stig.catalog import PORT_CHECKS, load_port_legend, load_ports


def by_id():
    return {row.id: row for row in load_ports()}


def test_row_count_per_table():
    counts = Counter(row.table for row in load_ports())

    assert counts == {"outbound": 1, "listening": 42}


def test_ids_follow_table_order():
    ids = [row.id for row in load_ports()]

    assert ids == ["OUT-01"] + [f"LST-{n:02d}" for n in range(1, 43)]


def test_every_legend_number_is_used_and_mapped():
    legend = load_port_legend()
    used = {n for row in load_ports() for n in row.legend}

    assert set(legend) == used == {1, 2, 3, 4, 5, 6}
    for row in load_ports():
        assert row.conditions == tuple(legend[n] for n in row.legend), row.id


def test_checks_are_the_small_documented_set():
    used = {row.check for row in load_ports()}

    assert used == PORT_CHECKS
    assert len(PORT_CHECKS) <= 10


def test_roles_come_from_the_vocabulary():
    for row in load_ports():
        assert set(row.source_roles + row.target_roles) <= set(catalog.ROLES), row.id


def test_targets_outside_the_inventory_are_outbound():
    for row in load_ports():
        outside = row.target_roles == ("external_service",)
        assert outside == (row.check == "outbound"), row.id


def test_udp_rows():
    udp = {row.id: row.ports for row in load_ports() if row.transport == "udp"}

    # SQL Browser, DNS, five SNMP polls and the UEM trap.
    assert sorted(p for ports in udp.values() for p in ports) == sorted(
        [1434, 53, 161, 161, 161, 161, 161, 1620]
    )


@pytest.mark.parametrize(
    ("row_id", "target", "ports", "transport", "check", "legend"),
    [
        ("LST-19", "BES10 Web Services for UDS", (18082,), "tcp", "tls_port", ()),
        ("LST-33", "IBM Domino Servers", (63148,), "tcp", "tcp_port", ()),
        ("LST-17", "Monitor", (1620,), "udp", "snmp_trap", ()),
        (
            "LST-03",
            "ISEC7 EMM Suite Database Server",
            (1434,),
            "udp",
            "udp_service",
            (5,),
        ),
        ("LST-04", "AD/LDAP/GC", (389, 636, 3268, 3269), "tcp", "ldap_port", ()),
        ("LST-06", "SMTP Gateway", (25, 465), "tcp", "smtp_port", ()),
        ("LST-02", "ISEC7 EMM Suite Database", (1433,), "tcp", "tds_port", ()),
        ("LST-22", "BES4/5 Management Databases", (1433,), "tcp", "tds_port", (2,)),
        ("LST-39", "APNS 17.0.0.0/8", (2195, 2196), "tcp", "outbound", (1,)),
        ("LST-42", "SCEP Server Web Service", (443,), "tcp", "tls_port", ()),
    ],
)
def test_spot_rows(row_id, target, ports, transport, check, legend):
    row = by_id()[row_id]

    assert (row.target, row.ports, row.transport, row.check, row.legend) == (
        target,
        ports,
        transport,
        check,
        legend,
    )


def test_uem_trap_is_received_by_the_monitor():
    row = by_id()["LST-17"]

    assert (row.source, row.source_roles, row.target_roles) == (
        "UEM Core",
        ("mdm_server",),
        ("sphere_server",),
    )
    assert row.port_text == "1620 (UDP)"


def test_licence_row_allows_a_proxy():
    row = by_id()["OUT-01"]

    assert (row.ports, row.port_text, row.match) == (
        (80, 443),
        "80 / 443 / Proxy",
        "any",
    )
    assert "proxy" in (row.notes or "")


def test_any_port_rows():
    rows = {row.id: row for row in load_ports() if row.any}

    assert sorted(rows) == ["LST-10", "LST-11", "LST-13", "LST-14"]
    assert rows["LST-10"].ports == () and rows["LST-10"].check == "icmp_tcp_any"
    assert rows["LST-13"].ports == (135,)
    assert rows["LST-14"].ports == (80, 443)


def test_sql_browser_condition_names_the_instance():
    row = by_id()["LST-03"]

    assert "instance name" in row.conditions[0]


# Against the overview text itself.


def table_lines(text):
    """The data rows of both tables, whitespace collapsed, headers dropped."""
    block = text[text.index("Table 1-1") : text.index("* Legend")]
    lines = [" ".join(line.split()) for line in block.splitlines()]
    return [
        line
        for line in lines
        if line and not line.startswith(("Table 1-", "Source Target Protocols"))
    ]


def test_rows_match_the_overview_cell_by_cell(overview_text):
    lines = table_lines(overview_text)
    rows = load_ports()

    assert len(lines) == len(rows) == 43
    for line, row in zip(lines, rows, strict=True):
        cells = [row.source, row.target, row.protocols, row.port_text]
        assert " ".join(cells + [str(n) for n in row.legend]) == line, row.id


def test_listening_table_continues_after_a_repeated_header(overview_text):
    block = overview_text[
        overview_text.index("Table 1-2") : overview_text.index("* Legend")
    ]
    headers = [line for line in block.splitlines() if "Default Ports" in line]

    assert len(headers) == 2
    assert block.rindex("Default Ports") < block.index("SCEP Server Web Service")


def test_legend_numbers_exist_in_the_overview(overview_text):
    legend = overview_text[overview_text.index("* Legend") :]
    numbers = {int(n) for n in re.findall(r"^\s*(\d) ", legend, re.MULTILINE)}

    assert numbers == set(load_port_legend())
