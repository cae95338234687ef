"""The TDS wire format as the double needs it: packets, PRELOGIN, LOGIN7, tokens.

Server side only: this module decodes what clients send (PRELOGIN, LOGIN7,
SQL batches, transaction manager requests) and encodes what SQL Server sends
back (the PRELOGIN answer, LOGINACK, ENVCHANGE, INFO, ERROR, DONE, one-column
result sets). Integers are little-endian except where MS-TDS says otherwise:
the packet header and the PRELOGIN option table are big-endian.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

HEADER = struct.Struct(">BBHHBB")
HEADER_SIZE = HEADER.size
# The packet size every connection starts with; LOGIN7 may negotiate another.
DEFAULT_PACKET_SIZE = 4096
MIN_PACKET_SIZE = 512
MAX_PACKET_SIZE = 32767
# A LOGIN7 message may not be longer than this (MS-TDS 2.2.6.4).
MAX_LOGIN7 = 128 * 1024 - 1
STATUS_EOM = 0x01


class PacketType(enum.IntEnum):
    SQL_BATCH = 0x01
    RPC = 0x03
    REPLY = 0x04
    ATTENTION = 0x06
    BULK_LOAD = 0x07
    TRANSACTION_MANAGER = 0x0E
    LOGIN7 = 0x10
    SSPI = 0x11
    PRELOGIN = 0x12


class Option(enum.IntEnum):
    """PRELOGIN option tokens."""

    VERSION = 0x00
    ENCRYPTION = 0x01
    INSTOPT = 0x02
    THREADID = 0x03
    MARS = 0x04
    TRACEID = 0x05
    FEDAUTHREQUIRED = 0x06
    NONCEOPT = 0x07
    TERMINATOR = 0xFF


class Encrypt(enum.IntEnum):
    """B_FENCRYPTION values; 0x80 (client certificate) may be or-ed in."""

    OFF = 0x00
    ON = 0x01
    NOT_SUP = 0x02
    REQ = 0x03


class ProtocolError(Exception):
    """The client sent something SQL Server would drop the connection for."""


# -- packets ------------------------------------------------------------------


def packets(kind: int, payload: bytes, packet_size: int, spid: int = 0) -> list[bytes]:
    """``payload`` cut into packets of at most ``packet_size`` bytes each."""
    room = packet_size - HEADER_SIZE
    chunks = [payload[i : i + room] for i in range(0, len(payload), room)] or [b""]
    out = []
    for number, chunk in enumerate(chunks, start=1):
        status = STATUS_EOM if number == len(chunks) else 0
        header = HEADER.pack(
            kind, status, HEADER_SIZE + len(chunk), spid, number % 256, 0
        )
        out.append(header + chunk)
    return out


def parse_header(data: bytes) -> tuple[int, int, int]:
    """Type, status and payload length of one packet header."""
    kind, status, length, _spid, _number, _window = HEADER.unpack(data)
    if length < HEADER_SIZE or length > MAX_PACKET_SIZE:
        raise ProtocolError(f"packet length {length} is out of range")
    return kind, status, length - HEADER_SIZE


# -- PRELOGIN -----------------------------------------------------------------


def parse_prelogin(payload: bytes) -> dict[int, bytes]:
    """Option token -> option data; raises ProtocolError when malformed."""
    options: dict[int, bytes] = {}
    at = 0
    while True:
        if at >= len(payload):
            raise ProtocolError("PRELOGIN option table has no terminator")
        token = payload[at]
        if token == Option.TERMINATOR:
            break
        if at + 5 > len(payload):
            raise ProtocolError("PRELOGIN option table is cut short")
        offset, length = struct.unpack_from(">HH", payload, at + 1)
        if offset + length > len(payload):
            raise ProtocolError(f"PRELOGIN option {token} points past the end")
        options[token] = payload[offset : offset + length]
        at += 5
    # The spec requires VERSION to be the first option a client sends.
    if not payload or payload[0] != Option.VERSION:
        raise ProtocolError("PRELOGIN does not start with the VERSION option")
    return options


def build_prelogin(options: Sequence[tuple[int, bytes]]) -> bytes:
    table = b""
    data = b""
    offset = 5 * len(options) + 1
    for token, value in options:
        table += struct.pack(">BHH", token, offset + len(data), len(value))
        data += value
    return table + bytes([Option.TERMINATOR]) + data


def version_bytes(version: tuple[int, int, int, int]) -> bytes:
    """PRELOGIN VERSION: major, minor, build (big-endian), sub-build."""
    major, minor, build, sub_build = version
    return struct.pack(">BBHH", major, minor, build, sub_build)


# -- LOGIN7 -------------------------------------------------------------------

_LOGIN7_FIXED = struct.Struct("<IIIIII BBBB iI")
# Offset/length pairs after the fixed part, in order (MS-TDS 2.2.6.4).
_LOGIN7_FIELDS = (
    "host_name",
    "user_name",
    "password",
    "app_name",
    "server_name",
    "extension",
    "library",
    "language",
    "database",
)
FEXTENSION = 0x10
FEATURE_TERMINATOR = 0xFF


@dataclass(frozen=True)
class Login7:
    tds_version: int
    packet_size: int
    option_flags3: int
    host_name: str
    user_name: str
    password: str = field(repr=False)
    app_name: str
    server_name: str
    library: str
    language: str
    database: str
    # FeatureId -> data of the FeatureExt block (UTF8 support, ...).
    features: dict[int, bytes]


def deobfuscate(data: bytes) -> bytes:
    """Undo LOGIN7's password scrambling: XOR 0xA5, then swap the nibbles."""
    out = bytearray()
    for byte in data:
        byte ^= 0xA5
        out.append(((byte & 0x0F) << 4) | (byte >> 4))
    return bytes(out)


def parse_login7(payload: bytes) -> Login7:
    if len(payload) < 94:
        raise ProtocolError(f"LOGIN7 is {len(payload)} bytes, shorter than its header")
    (
        length,
        tds_version,
        packet_size,
        _prog,
        _pid,
        _conn,
        _f1,
        _f2,
        _tf,
        f3,
        _tz,
        _lcid,
    ) = _LOGIN7_FIXED.unpack_from(payload, 0)
    if length != len(payload):
        raise ProtocolError(f"LOGIN7 says {length} bytes but {len(payload)} arrived")
    values: dict[str, bytes] = {}
    at = 36
    for name in _LOGIN7_FIELDS:
        offset, count = struct.unpack_from("<HH", payload, at)
        at += 4
        # ibExtension/cbExtension count bytes; every other field counts
        # UTF-16 characters.
        size = count if name == "extension" else 2 * count
        if offset + size > len(payload):
            raise ProtocolError(f"LOGIN7 field {name} points past the end")
        values[name] = payload[offset : offset + size]

    def text(name: str) -> str:
        return values[name].decode("utf-16-le", errors="replace")

    features: dict[int, bytes] = {}
    if f3 & FEXTENSION and len(values["extension"]) == 4:
        (start,) = struct.unpack("<I", values["extension"])
        features = _parse_features(payload, start)
    return Login7(
        tds_version=tds_version,
        packet_size=packet_size,
        option_flags3=f3,
        host_name=text("host_name"),
        user_name=text("user_name"),
        password=deobfuscate(values["password"]).decode("utf-16-le", errors="replace"),
        app_name=text("app_name"),
        server_name=text("server_name"),
        library=text("library"),
        language=text("language"),
        database=text("database"),
        features=features,
    )


def _parse_features(payload: bytes, at: int) -> dict[int, bytes]:
    features: dict[int, bytes] = {}
    while at < len(payload) and payload[at] != FEATURE_TERMINATOR:
        if at + 5 > len(payload):
            raise ProtocolError("LOGIN7 FeatureExt is cut short")
        feature = payload[at]
        (size,) = struct.unpack_from("<I", payload, at + 1)
        features[feature] = payload[at + 5 : at + 5 + size]
        at += 5 + size
    return features


# -- requests after login -------------------------------------------------------


def skip_all_headers(payload: bytes) -> bytes:
    """The request body after its ALL_HEADERS block (TDS 7.2 and later)."""
    if len(payload) < 4:
        raise ProtocolError("request too short for ALL_HEADERS")
    (total,) = struct.unpack_from("<I", payload, 0)
    if total < 4 or total > len(payload):
        raise ProtocolError(f"ALL_HEADERS length {total} is out of range")
    return payload[total:]


# -- tokens -------------------------------------------------------------------

TDS74 = 0x74000004
DONE_FINAL = 0x0000
DONE_MORE = 0x0001
DONE_ERROR = 0x0002
DONE_COUNT = 0x0010
DONE_ATTN = 0x0020
CURCMD_SELECT = 0x00C1

# ENVCHANGE types.
ENV_DATABASE = 1
ENV_LANGUAGE = 2
ENV_PACKET_SIZE = 4
ENV_COLLATION = 7
ENV_BEGIN_TRAN = 8
ENV_COMMIT_TRAN = 9
ENV_ROLLBACK_TRAN = 10

# SQL_Latin1_General_CP1_CI_AS: LCID 0x0409 with its flags, sort id 52.
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])


def b_varchar(value: str) -> bytes:
    data = value.encode("utf-16-le")
    return bytes([len(data) // 2]) + data


def us_varchar(value: str) -> bytes:
    data = value.encode("utf-16-le")
    return struct.pack("<H", len(data) // 2) + data


def b_varbyte(value: bytes) -> bytes:
    return bytes([len(value)]) + value


def _token(kind: int, body: bytes) -> bytes:
    return struct.pack("<BH", kind, len(body)) + body


def envchange_text(env: int, new: str, old: str) -> bytes:
    return _token(0xE3, bytes([env]) + b_varchar(new) + b_varchar(old))


def envchange_bytes(env: int, new: bytes, old: bytes) -> bytes:
    return _token(0xE3, bytes([env]) + b_varbyte(new) + b_varbyte(old))


def message(
    kind: int,
    number: int,
    state: int,
    severity: int,
    text: str,
    server: str,
    line: int = 1,
) -> bytes:
    """An ERROR (0xAA) or INFO (0xAB) token."""
    body = struct.pack("<iBB", number, state, severity)
    body += us_varchar(text) + b_varchar(server) + b_varchar("")
    body += struct.pack("<i", line)
    return _token(kind, body)


def error(number: int, state: int, severity: int, text: str, server: str) -> bytes:
    return message(0xAA, number, state, severity, text, server)


def info(number: int, state: int, text: str, server: str) -> bytes:
    return message(0xAB, number, state, 0, text, server)


def loginack(tds_version: int, program: str, version: tuple[int, int, int]) -> bytes:
    major, minor, build = version
    body = bytes([1]) + struct.pack(">I", tds_version) + b_varchar(program)
    body += struct.pack(">BBH", major, minor, build)
    return _token(0xAD, body)


def featureextack(features: dict[int, bytes]) -> bytes:
    body = b"".join(
        bytes([feature]) + struct.pack("<I", len(data)) + data
        for feature, data in features.items()
    )
    return bytes([0xAE]) + body + bytes([FEATURE_TERMINATOR])


def done(status: int = DONE_FINAL, command: int = 0, rows: int = 0) -> bytes:
    return struct.pack("<BHHQ", 0xFD, status, command, rows)


def doneproc(status: int = DONE_FINAL) -> bytes:
    return struct.pack("<BHHQ", 0xFE, status, 0, 0)


def return_status(value: int) -> bytes:
    return struct.pack("<Bi", 0x79, value)


def int_result(value: int) -> bytes:
    """One unnamed INT column holding ``value`` in one row."""
    metadata = struct.pack("<BH", 0x81, 1) + struct.pack("<IHB", 0, 0x0000, 0x38)
    metadata += b_varchar("")
    return metadata + bytes([0xD1]) + struct.pack("<i", value)


def nvarchar_result(value: str, max_chars: int = 4000) -> bytes:
    """One unnamed NVARCHAR column holding ``value`` in one row."""
    metadata = struct.pack("<BH", 0x81, 1)
    metadata += struct.pack("<IHBH", 0, 0x0001, 0xE7, 2 * max_chars) + COLLATION
    metadata += b_varchar("")
    data = value.encode("utf-16-le")
    return metadata + bytes([0xD1]) + struct.pack("<H", len(data)) + data
