#!/usr/bin/env python3
"""Print the rule identifiers of an XCCDF benchmark, or compare them with the catalog.

The identifiers in ``src/sphere_stig/catalog/rules.yml`` (V-ID, rule ID, STIG
ID, severity, CCIs, SRG, legacy IDs) and its ``benchmark:`` block are taken
from this script's output, not typed by hand. Run it again when DISA
publishes a new release:

    python scripts/extract_catalog_ids.py U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml
    python scripts/extract_catalog_ids.py FILE --compare

The first form prints YAML in the key order ``rules.yml`` uses, ready to
paste; the second exits 1 and lists every difference when the catalog and
the benchmark disagree. Titles and texts are never printed.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import yaml

from sphere_stig.catalog.xccdf import ID_FIELDS, diff_rule_ids, read_xccdf_ids

RULES_YML = Path(__file__).resolve().parents[1] / "src/sphere_stig/catalog/rules.yml"


def _flow(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(items) + "]"


def emit(xccdf: Path) -> str:
    bench, rules = read_xccdf_ids(xccdf)
    lines = [
        "benchmark:",
        f"  id: {bench.id}",
        f"  title: {bench.title}",
        f"  version: {bench.version}",
        f"  release: {bench.release}",
        f'  release_info: "{bench.release_info}"',
        f"  benchmark_date: {bench.benchmark_date.isoformat()}",
        f"  status_date: {bench.status_date.isoformat()}",
        f"  filename: {xccdf.name}",
        f"  sha256: {hashlib.sha256(xccdf.read_bytes()).hexdigest()}",
        "rules:",
    ]
    for r in rules:
        lines.append(f"  - vuln_id: {r.vuln_id}")
        for name in ID_FIELDS[1:]:
            value = getattr(r, name)
            text = _flow(value) if isinstance(value, tuple) else value
            lines.append(f"    {name}: {text}")
    return "\n".join(lines) + "\n"


def compare(xccdf: Path, rules_yml: Path) -> list[str]:
    bench, rules = read_xccdf_ids(xccdf)
    doc = yaml.safe_load(rules_yml.read_text(encoding="utf-8"))
    problems = diff_rule_ids(doc["rules"], rules)
    ours = doc["benchmark"]
    for name in (
        "id",
        "title",
        "version",
        "release",
        "release_info",
        "benchmark_date",
        "status_date",
    ):
        have, want = ours.get(name), getattr(bench, name)
        if have != want:
            problems.append(f"benchmark {name} is {have!r}, the file says {want!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("xccdf", type=Path, help="the DISA XCCDF benchmark file")
    parser.add_argument(
        "--compare",
        nargs="?",
        const=RULES_YML,
        type=Path,
        metavar="RULES_YML",
        help=f"compare with a rules.yml instead of printing (default {RULES_YML.name})",
    )
    args = parser.parse_args(argv)
    if args.compare is None:
        sys.stdout.write(emit(args.xccdf))
        return 0
    problems = compare(args.xccdf, args.compare)
    for line in problems:
        print(line)
    print(f"{len(problems)} difference(s) between {args.compare} and {args.xccdf.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
