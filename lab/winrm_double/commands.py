"""What a command sent to the double prints: only the suite's collector scripts.

The double runs no program and no PowerShell. It decodes
``powershell -EncodedCommand <base64 UTF-16LE>``, recognises the collector
script (host_facts.ps1 or wmi_facts.ps1) by its header line and answers with
the output the real script would print on a host built like the image.
Anything else ends with exit code 1 and an error saying so, so that nobody
mistakes the double for a Windows host.

Two behaviours of real hosts that clients trip over are reproduced:

* Windows PowerShell writes its error stream as CLIXML when it is
  redirected, and every run starts with a progress record ("Preparing
  modules for first use."), which is not an error.
* With code page 65001 (UTF-8) each stream starts with a byte order mark;
  with the default OEM code page characters outside it become "?".

Command lines are limited as on Windows: 8191 characters through cmd.exe
(the default), 32767 when the client skips the command shell.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from dataclasses import dataclass
from pathlib import PureWindowsPath
from xml.sax.saxutils import escape

from lab.winrm_double import wsman
from lab.winrm_double.image import HostImage
from sphere_stig.collectors.windows import HEADER as HOST_FACTS_HEADER
from sphere_stig.collectors.wmi import HEADER as WMI_FACTS_HEADER

log = logging.getLogger(__name__)

CMD_EXE_LIMIT = 8191
CREATE_PROCESS_LIMIT = 32767
UTF8_CODEPAGE = 65001

_POWERSHELL = {"powershell", "powershell.exe"}
_QUOTES = "'\u2018\u2019\u201a\u201b"
_ASSIGNMENT = re.compile(
    r"^\s*\$(?P<name>SphereRoot|ShutdownPort|TrapPorts|AgentAccount)\s*=\s*(?P<value>.+?)\s*;?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_PROGRESS_RECORD = (
    '<Obj S="progress" RefId="0"><TN RefId="0">'
    "<T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>"
    '<MS><I64 N="SourceId">1</I64><PR N="Record">'
    "<AV>Preparing modules for first use.</AV>"
    "<AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR>"
    "</MS></Obj>"
)


@dataclass(frozen=True)
class Output:
    stdout: bytes
    stderr: bytes
    exit_code: int
    # For the request log: what the double made of the command.
    summary: str


class ScriptError(Exception):
    """The PowerShell script cannot be answered; the message goes to stderr."""


def clixml_escape(text: str) -> str:
    """Text for a CLIXML string: XML escaped, control characters as _xHHHH_."""
    out = []
    for index, char in enumerate(text):
        if char == "_" and re.match(r"x[0-9A-Fa-f]{4}_", text[index + 1 : index + 7]):
            out.append("_x005F_")
        elif ord(char) < 0x20:
            out.append(f"_x{ord(char):04X}_")
        else:
            out.append(escape(char))
    return "".join(out)


def clixml_stderr(errors: list[str]) -> str:
    records = [_PROGRESS_RECORD]
    records += [
        f'<S S="Error">{clixml_escape(line + chr(13) + chr(10))}</S>' for line in errors
    ]
    return (
        "#< CLIXML\r\n"
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + "".join(records)
        + "</Objs>"
    )


def encode_stream(text: str, codepage: int) -> bytes:
    if not text:
        return b""
    if codepage == UTF8_CODEPAGE:
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    try:
        return text.encode(f"cp{codepage}", errors="replace")
    except LookupError:
        return text.encode("cp437", errors="replace")


def single_quoted(value: str) -> str | None:
    """The value of a PowerShell single-quoted string literal, or None."""
    if len(value) < 2 or value[0] not in _QUOTES or value[-1] not in _QUOTES:
        return None
    inner = value[1:-1]
    # Any of the quote characters PowerShell accepts is escaped by doubling.
    for quote in _QUOTES:
        inner = inner.replace(quote * 2, quote)
    return inner


class CommandRunner:
    """Turns a command line into the output a host built like the image prints."""

    def __init__(self, image: HostImage, host: str) -> None:
        self.image = image
        self.host = host

    def run(
        self, command: str, arguments: list[str], skip_cmd_shell: bool, codepage: int
    ) -> Output:
        line = " ".join([command, *arguments]).strip()
        if not skip_cmd_shell and len(line) > CMD_EXE_LIMIT:
            # cmd.exe /c refuses the line before anything runs.
            return Output(
                b"",
                encode_stream("The command line is too long.\r\n", codepage),
                1,
                "too long for cmd.exe",
            )
        if len(line) > CREATE_PROCESS_LIMIT:
            raise wsman.Fault(
                subcode="w:InternalError",
                reason="The filename or extension is too long.",
                code=wsman.CODE_COMMAND_LINE_TOO_LONG,
                sender=False,
            )
        tokens = line.split()
        program = (
            PureWindowsPath(tokens[0].strip('"')).name.casefold() if tokens else ""
        )
        if program not in _POWERSHELL:
            message = (
                f"'{tokens[0] if tokens else ''}': the WS-Management test double for "
                f"{self.host} runs no programs; it only answers the sphere-stig "
                "collector scripts.\r\n"
            )
            return Output(
                b"",
                encode_stream(message, codepage),
                1,
                f"refused {program or 'empty command'}",
            )
        try:
            script = self._encoded_script(tokens[1:])
            stdout, summary = self._answer(script)
        except ScriptError as exc:
            stderr = clixml_stderr([str(exc)])
            return Output(
                b"", encode_stream(stderr, codepage), 1, f"refused script ({exc})"[:120]
            )
        stderr = clixml_stderr([])
        return Output(
            encode_stream(stdout, codepage), encode_stream(stderr, codepage), 0, summary
        )

    @staticmethod
    def _encoded_script(arguments: list[str]) -> str:
        for index, token in enumerate(arguments):
            flag = token.casefold().lstrip("-/")
            is_flag = flag == "ec" or (flag and "encodedcommand".startswith(flag))
            if is_flag and token[:1] in "-/":
                if index + 1 >= len(arguments):
                    break
                try:
                    return base64.b64decode(arguments[index + 1], validate=True).decode(
                        "utf-16-le"
                    )
                except (binascii.Error, UnicodeDecodeError):
                    raise ScriptError(
                        "Cannot process the command because the value specified "
                        "with -EncodedCommand is not properly encoded."
                    ) from None
        raise ScriptError(
            "This WS-Management test double runs no PowerShell: send the "
            "collector script with -EncodedCommand."
        )

    def _answer(self, script: str) -> tuple[str, str]:
        lines = [ln.strip() for ln in script.splitlines()]
        values = {
            m.group("name").casefold(): m.group("value")
            for m in _ASSIGNMENT.finditer(script)
        }
        if WMI_FACTS_HEADER in lines:
            return self._wmi_facts(values)
        if HOST_FACTS_HEADER not in lines:
            raise ScriptError(
                f"This WS-Management test double for {self.host} does not run "
                "PowerShell; it only answers the sphere-stig collector scripts "
                f"('{HOST_FACTS_HEADER}', '{WMI_FACTS_HEADER}')."
            )
        root = single_quoted(values.get("sphereroot", ""))
        if root is None:
            raise ScriptError(
                "The collector script does not set $SphereRoot to a single-quoted path."
            )
        port_text = values.get("shutdownport", "")
        if not re.fullmatch(r"-?\d+", port_text):
            raise ScriptError(
                "The collector script does not set $ShutdownPort to a number."
            )
        trap_text = values.get("trapports", "@()")
        trap = re.fullmatch(r"@\(\s*(\d+(?:\s*,\s*\d+)*)?\s*\)", trap_text)
        if trap is None:
            raise ScriptError(
                "The collector script does not set $TrapPorts to a list of numbers."
            )
        trap_ports = tuple(int(n) for n in re.findall(r"\d+", trap_text))
        facts = self.image.host_facts(root, int(port_text), trap_ports)
        # The script escapes every non-ASCII character, as json.dumps does.
        document = json.dumps(facts, separators=(",", ":"), ensure_ascii=True)
        return document + "\r\n", (
            f"host_facts root={root!r} shutdown_port={port_text} "
            f"trap_ports={','.join(map(str, trap_ports)) or 'none'}"
        )

    def _wmi_facts(self, values: dict[str, str]) -> tuple[str, str]:
        account = single_quoted(values.get("agentaccount", ""))
        if account is None:
            raise ScriptError(
                "The collector script does not set $AgentAccount to a "
                "single-quoted name."
            )
        facts = self.image.wmi_facts(account)
        document = json.dumps(facts, separators=(",", ":"), ensure_ascii=True)
        return document + "\r\n", f"wmi_facts account={account!r}"
