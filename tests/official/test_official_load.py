"""load_official(): the DISA XCCDF, the zips it comes in, and hostile input."""

import pytest

from sphere_stig import official
from sphere_stig.official import OfficialRule, OfficialTextError, load_official

# The real benchmark (skipped when ../shared is absent).


def test_real_benchmark_header(real_xccdf):
    # When the V3R1 Manual XCCDF is loaded
    bench = load_official(real_xccdf)

    # Then its header is the one the catalog was built from
    assert bench.id == "ISEC7_Sphere"
    assert bench.title == "ISEC7 Sphere Security Technical Implementation Guide"
    assert bench.version == "3"
    assert bench.release_info == "Release: 1 Benchmark Date: 24 Oct 2024"
    assert bench.filename == "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"
    assert bench.description.startswith("This Security Technical Implementation")
    assert len(bench.rules) == 34
    assert "V-224787" not in bench.rules


def test_real_benchmark_rule_fields(real_xccdf):
    rules = load_official(real_xccdf).rules

    tls = rules["V-224762"]
    assert tls.title
    assert (tls.rule_id, tls.stig_id, tls.severity, tls.srg) == (
        "SV-224762r1013803_rule",
        "ISEC-06-000060",
        "medium",
        "SRG-APP-000014",
    )
    assert tls.ccis == ("CCI-000068",)
    assert tls.legacy_ids == ("V-97387", "SV-106491")
    assert rules["V-224766"].ccis == ("CCI-001348", "CCI-001851")
    assert rules["V-225096"].legacy_ids == ()
    assert {r.check_content_ref for r in rules.values()} == {"M"}
    assert [r.severity for r in rules.values()].count("high") == 2


def test_real_discussions_are_plain_text(real_xccdf):
    rules = load_official(real_xccdf).rules

    for rule in rules.values():
        # Every rule has all three texts, and no pseudo-XML tag survives
        assert rule.discussion and rule.check_content and rule.fix_text, rule.vuln_id
        assert "<" not in rule.discussion, rule.vuln_id
        assert "VulnDiscussion" not in rule.discussion, rule.vuln_id
        assert rule.discussion == rule.discussion.strip()
    # The banner rule's discussion holds the one bare ampersand of the file,
    # which makes DISA's pseudo-XML unparseable as XML; it is kept as is.
    banner = rules["V-224763"].discussion
    assert banner.count("&") == 1
    assert "&amp;" not in banner


def test_real_fix_text_keeps_non_ascii_characters(real_xccdf):
    # The V-224785 fix is the only text with typographic dashes and quotes
    fix = load_official(real_xccdf).rules["V-224785"].fix_text

    assert "\u2013" in fix
    assert not fix.isascii()


def test_real_benchmark_from_zips(real_xccdf, make_zip):
    # Given the file in a folder of a zip, and that zip inside another zip
    data = real_xccdf.read_bytes()
    inner = make_zip(
        {
            "U_ISEC7_Sphere_V3R1_STIG/U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml": data,
            "U_ISEC7_Sphere_V3R1_STIG/STIG_unclass.xsl": b"<xsl/>",
        },
        "U_ISEC7_Sphere_V3R1_STIG.zip",
    )
    outer = make_zip({"library/U_ISEC7_Sphere_V3R1_STIG.zip": inner.read_bytes()})

    # Then both read the same as the file itself
    direct = load_official(real_xccdf)
    assert load_official(inner) == direct
    assert load_official(outer) == direct


# The benchmark written for these tests.


def test_mini_benchmark_reads_every_field(mini_xccdf):
    bench = load_official(mini_xccdf)

    assert (bench.id, bench.title, bench.version) == (
        "ISEC7_Sphere",
        "Mini Sphere Test Benchmark",
        "3",
    )
    assert bench.release_info == "Release: 2 Benchmark Date: 14 Mar 2025"
    assert bench.description == "A benchmark written for the unit tests of the suite."
    assert bench.filename == "mini-xccdf.xml"
    assert list(bench.rules) == ["V-224760", "V-224762", "V-224767"]
    assert bench.rules["V-224760"] == OfficialRule(
        vuln_id="V-224760",
        rule_id="SV-224760r999_rule",
        stig_id="ISEC-06-000010",
        severity="medium",
        title="Connection limits are set.",
        discussion=(
            "Limits keep one client from\nstarving the others & the server.\n\n"
            "A second paragraph."
        ),
        check_content="Read both limits.\n\nIf either is missing, this is a finding.",
        fix_text="Set both limits.",
        check_content_ref="M",
        ccis=("CCI-000054",),
        legacy_ids=("V-97303", "SV-106407"),
        srg="SRG-APP-000001",
    )
    assert bench.rules["V-224767"].ccis == ("CCI-000764", "CCI-000366")


def test_doubly_escaped_discussion_is_decoded_once_more(mini_xccdf):
    rule = load_official(mini_xccdf).rules["V-224762"]

    assert rule.discussion == "Look at the <Connector> element."


def test_description_without_pseudo_tags_is_taken_whole(mini_text, tmp_path):
    path = tmp_path / "plain-xccdf.xml"
    path.write_text(
        mini_text.replace(
            "&lt;VulnDiscussion&gt;Default accounts are well known."
            "&lt;/VulnDiscussion&gt;",
            "  Default accounts are well known.  ",
        ),
        encoding="utf-8",
    )

    rule = load_official(path).rules["V-224767"]

    assert rule.discussion == "Default accounts are well known."


def test_another_products_benchmark_is_refused(mini_text, tmp_path):
    # Its titles and text would otherwise label the ISEC7 rules' checklists.
    path = tmp_path / "other-xccdf.xml"
    path.write_text(mini_text.replace('id="ISEC7_Sphere"', 'id="Other_Product"'))

    with pytest.raises(OfficialTextError) as err:
        load_official(path)

    assert str(err.value).startswith(f"{path}: this is the benchmark 'Other_Product' (")
    assert "not 'ISEC7_Sphere' (ISEC7 Sphere Security Technical" in str(err.value)


# Zips.


def test_zip_with_the_xccdf_in_a_folder(mini_xccdf, make_zip):
    # Given a zip like DISA's: a folder with the XCCDF, a stylesheet, and a
    # macOS resource fork that also ends in -xccdf.xml
    folder = "U_Mini_V3R2_STIG/"
    path = make_zip(
        {
            folder: b"",
            folder + "U_Mini_STIG_V3R2_Manual-xccdf.xml": mini_xccdf.read_bytes(),
            folder + "STIG_unclass.xsl": b"<xsl/>",
            "__MACOSX/" + folder + "._U_Mini_STIG_V3R2_Manual-xccdf.xml": b"\0\5",
        }
    )

    # When it is loaded
    bench = load_official(path)

    # Then the XCCDF inside is read, and named by its own file name
    assert bench.filename == "U_Mini_STIG_V3R2_Manual-xccdf.xml"
    assert bench.rules == load_official(mini_xccdf).rules


def test_zip_inside_a_zip(mini_xccdf, make_zip):
    inner = make_zip({"a/U_Mini_Manual-xccdf.xml": mini_xccdf.read_bytes()}, "in.zip")
    outer = make_zip({"U_Mini_V3R2_STIG.zip": inner.read_bytes(), "readme.txt": b""})

    bench = load_official(outer)

    assert bench.filename == "U_Mini_Manual-xccdf.xml"
    assert len(bench.rules) == 3


def test_zip_without_an_xccdf_is_refused(make_zip):
    path = make_zip({"docs/overview.pdf": b"%PDF", "inner.zip": b""})

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    # The empty inner.zip is not a zip at all, and says so first
    assert str(info.value) == (
        f"{path} > inner.zip: not a readable zip archive (File is not a zip file); "
        "pass the DISA Manual XCCDF (U_..._Manual-xccdf.xml) or the zip it is "
        "published in"
    )
    path = make_zip({"docs/overview.pdf": b"%PDF"}, "empty.zip")
    with pytest.raises(OfficialTextError) as info:
        load_official(path)
    assert str(info.value).startswith(
        f"{path}: the zip holds no XCCDF file (no member named *xccdf*.xml, nor in "
        "a zip inside it)"
    )


def test_zip_with_two_xccdf_files_is_refused(mini_xccdf, make_zip):
    data = mini_xccdf.read_bytes()
    path = make_zip({"a/One_Manual-xccdf.xml": data, "b/Two_Manual-xccdf.xml": data})

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value) == (
        f"{path}: the zip holds 2 XCCDF files (a/One_Manual-xccdf.xml, "
        "b/Two_Manual-xccdf.xml); extract the ISEC7 Sphere one and pass it"
    )


def test_broken_zip_is_refused(tmp_path):
    path = tmp_path / "U_Sphere_STIG.zip"
    path.write_bytes(b"PK\x03\x04 this was cut off in the download")

    with pytest.raises(OfficialTextError, match=r"not a readable zip archive \("):
        load_official(path)


def test_zip_member_too_large_is_refused(mini_xccdf, make_zip, monkeypatch):
    # Given a limit smaller than the member (the real one is 64 MiB)
    monkeypatch.setattr(official, "MAX_BYTES", 2 * 1024 * 1024)
    path = make_zip({"big-xccdf.xml": b" " * (3 * 1024 * 1024)})

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value).startswith(
        f"{path}: member big-xccdf.xml expands to more than 2 MiB"
    )


def nest(make_zip, data: bytes, zips_inside: int):
    """A top zip with ``zips_inside`` zips nested in it, the XCCDF in the last."""
    data = make_zip({"x-xccdf.xml": data}, "z0.zip").read_bytes()
    for depth in range(1, zips_inside):
        data = make_zip({"next.zip": data}, f"z{depth}.zip").read_bytes()
    return make_zip({"next.zip": data}, "top.zip")


def test_zips_are_searched_three_deep_and_no_deeper(mini_xccdf, make_zip):
    assert official.MAX_ZIP_DEPTH == 3
    xml = mini_xccdf.read_bytes()

    assert len(load_official(nest(make_zip, xml, 3)).rules) == 3
    with pytest.raises(OfficialTextError, match="the zip holds no XCCDF file"):
        load_official(nest(make_zip, xml, 4))


# Files that are not a DISA benchmark, and hostile ones.


def write(tmp_path, text: str, name: str = "x-xccdf.xml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BOMB = """<?xml version="1.0"?>
<!DOCTYPE Benchmark [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1">&c;</Benchmark>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE Benchmark [<!ENTITY leak SYSTEM "file:///etc/hostname">]>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1">&leak;</Benchmark>
"""
DTD_ONLY = """<?xml version="1.0"?>
<!DOCTYPE Benchmark SYSTEM "http://example.invalid/xccdf.dtd">
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1"/>
"""


@pytest.mark.parametrize("text", [BOMB, EXTERNAL, DTD_ONLY], ids=["bomb", "xxe", "dtd"])
def test_dtds_and_entities_are_refused(tmp_path, text):
    path = write(tmp_path, text)

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value).startswith(
        f"{path}: refused: the XML declares a DTD or entities ("
    )


def test_entity_bomb_inside_a_zip_is_refused(make_zip):
    path = make_zip({"U_Bomb_Manual-xccdf.xml": BOMB.encode()})

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value).startswith(
        f"{path} > U_Bomb_Manual-xccdf.xml: refused: the XML declares a DTD"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "<CHECKLIST><ASSET/></CHECKLIST>",
            "not an XCCDF 1.1 benchmark (the root element is <CHECKLIST>, expected "
            "<Benchmark> in namespace http://checklists.nist.gov/xccdf/1.1)",
        ),
        (
            '<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="x"/>',
            "not an XCCDF 1.1 benchmark (the root element is <Benchmark> in "
            "namespace http://checklists.nist.gov/xccdf/1.2, expected",
        ),
        (
            '{"stigs": []}',
            "cannot be parsed as XML (not well-formed (invalid token): line 1, "
            "column 0)",
        ),
        (
            '<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.1" id="x">'
            '<status date="2025-01-01"/><version>1</version></Benchmark>',
            "not a DISA benchmark: no release number in release-info ''",
        ),
    ],
    ids=["checklist", "xccdf-1.2", "json", "no-release"],
)
def test_other_files_are_refused(tmp_path, text, message):
    path = write(tmp_path, text)

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value).startswith(f"{path}: {message}")
    assert str(info.value).endswith(
        "pass the DISA Manual XCCDF (U_..._Manual-xccdf.xml) or the zip it is "
        "published in"
    )


def test_benchmark_without_rules_is_refused(mini_text, tmp_path):
    header = mini_text[: mini_text.index("<Group")] + "</Benchmark>\n"
    path = write(tmp_path, header)

    with pytest.raises(OfficialTextError, match="the benchmark holds no rules"):
        load_official(path)


def test_repeated_rule_is_refused(mini_text, tmp_path):
    path = write(
        tmp_path, mini_text.replace('Group id="V-224762"', 'Group id="V-224760"')
    )

    with pytest.raises(OfficialTextError) as info:
        load_official(path)

    assert str(info.value).startswith(f"{path}: V-224760 appears twice;")


def test_missing_path_and_folder_are_refused(tmp_path):
    missing = tmp_path / "U_ISEC7_Sphere_STIG_V3R1_Manual-xccdf.xml"

    with pytest.raises(OfficialTextError) as info:
        load_official(missing)
    assert str(info.value) == (
        f"{missing}: no such file; pass the DISA Manual XCCDF "
        "(U_..._Manual-xccdf.xml) or the zip it is published in"
    )
    with pytest.raises(OfficialTextError, match=f"^{tmp_path}: not a file;"):
        load_official(tmp_path)


def test_oversized_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(official, "MAX_BYTES", 1024 * 1024)
    path = tmp_path / "huge-xccdf.xml"
    path.write_bytes(b" " * (1024 * 1024 + 1))

    with pytest.raises(OfficialTextError, match="larger than 1 MiB"):
        load_official(path)
