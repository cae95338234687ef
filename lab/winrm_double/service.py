"""The Windows Remote Shell resource: shells, commands and their output.

A shell belongs to the user who created it; another user gets the same
"shell not found" fault a host sends for an unknown ShellId. Command output
is handed out over as many Receive responses as the client's
MaxEnvelopeSize requires, with CommandState Running until the last one.
"""

from __future__ import annotations

import base64
import threading
from collections import Counter
from dataclasses import dataclass, field

from lab.winrm_double import wsman
from lab.winrm_double.commands import CommandRunner, Output

# Room left in an envelope for everything around the stream data.
_ENVELOPE_OVERHEAD = 4096


@dataclass
class Command:
    command_id: str
    output: Output
    sent_out: int = 0
    sent_err: int = 0


@dataclass
class Shell:
    shell_id: str
    owner: str
    codepage: int
    commands: dict[str, Command] = field(default_factory=dict)


@dataclass
class Outcome:
    """A response body and what to log about it."""

    body: bytes
    note: str = ""


class ShellService:
    """State of all shells of one double, shared by the listener threads."""

    def __init__(self, runner: CommandRunner, machine: str) -> None:
        self.runner = runner
        self.machine = machine
        self.shells: dict[str, Shell] = {}
        # Requests per action name, for tests ("one shell per session").
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle(
        self, request: wsman.Request, user: str, endpoint: str, client_ip: str
    ) -> Outcome:
        with self._lock:
            self.counts[request.name] += 1
        if request.resource_uri.casefold() != wsman.SHELL_URI:
            raise wsman.invalid(
                f"The WS-Management service cannot process the request. The resource "
                f"URI ({request.resource_uri or 'none'}) was not found in the "
                "WS-Management catalog of this test double.",
                subcode="w:DestinationUnreachable",
            )
        if request.action == wsman.ACTION_CREATE:
            return self._create(request, user, endpoint, client_ip)
        shell = self._shell(request, user)
        if request.action == wsman.ACTION_DELETE:
            with self._lock:
                del self.shells[shell.shell_id]
            return Outcome(wsman.delete_response(request), f"shell {shell.shell_id}")
        if request.action == wsman.ACTION_COMMAND:
            return self._command(request, shell)
        if request.action == wsman.ACTION_RECEIVE:
            return self._receive(request, shell)
        if request.action == wsman.ACTION_SIGNAL:
            return self._signal(request, shell)
        raise wsman.invalid(
            "The action is not supported by the service.",
            subcode="a:ActionNotSupported",
        )

    def forget_shells(self) -> None:
        """Drop every shell, as a host does when its idle timeout expires."""
        with self._lock:
            self.shells.clear()

    def _create(
        self, request: wsman.Request, user: str, endpoint: str, client_ip: str
    ) -> Outcome:
        codepage_text = request.options.get("WINRS_CODEPAGE", "437")
        codepage = int(codepage_text) if codepage_text.isdigit() else 437
        shell = Shell(wsman.new_id(), user, codepage)
        with self._lock:
            self.shells[shell.shell_id] = shell
        body = wsman.create_response(request, endpoint, shell.shell_id, user, client_ip)
        return Outcome(body, f"shell {shell.shell_id} codepage {codepage}")

    def _shell(self, request: wsman.Request, user: str) -> Shell:
        shell_id = request.shell_id or ""
        with self._lock:
            shell = self.shells.get(shell_id)
        if shell is None or shell.owner.casefold() != user.casefold():
            raise wsman.shell_not_found(shell_id)
        return shell

    def _command(self, request: wsman.Request, shell: Shell) -> Outcome:
        line = request.find("rsp:CommandLine")
        if line is None:
            raise wsman.invalid("The request does not contain a CommandLine element.")
        command = (line.findtext("rsp:Command", "", wsman.NS) or "").strip()
        arguments = [a.text or "" for a in line.iterfind("rsp:Arguments", wsman.NS)]
        skip = request.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
        output = self.runner.run(command, arguments, skip, shell.codepage)
        entry = Command(wsman.new_id(), output)
        with self._lock:
            shell.commands[entry.command_id] = entry
        note = f"command {entry.command_id} exit {output.exit_code}: {output.summary}"
        return Outcome(wsman.command_response(request, entry.command_id), note)

    def _find_command(self, shell: Shell, command_id: str) -> Command:
        with self._lock:
            entry = shell.commands.get(command_id)
        if entry is None:
            raise wsman.invalid(
                f"The request for the Windows Remote Shell with CommandId {command_id} "
                "failed because the command was not found in the shell."
            )
        return entry

    def _receive(self, request: wsman.Request, shell: Shell) -> Outcome:
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        command_id = desired.get("CommandId", "") if desired is not None else ""
        entry = self._find_command(shell, command_id)
        budget = max(1024, (request.max_envelope - _ENVELOPE_OVERHEAD) * 3 // 4)
        output = entry.output
        streams: list[tuple[str, str, bool]] = []
        for name, data, attribute in (
            ("stdout", output.stdout, "sent_out"),
            ("stderr", output.stderr, "sent_err"),
        ):
            start = getattr(entry, attribute)
            if start >= len(data) and start > 0:
                continue
            piece = data[start : start + budget]
            budget -= len(piece)
            setattr(entry, attribute, start + len(piece))
            end = start + len(piece) >= len(data)
            if piece or end:
                streams.append((name, base64.b64encode(piece).decode("ascii"), end))
            if budget <= 0:
                break
        finished = entry.sent_out >= len(output.stdout) and entry.sent_err >= len(
            output.stderr
        )
        exit_code = output.exit_code if finished else None
        body = wsman.receive_response(request, command_id, streams, exit_code)
        state = "done" if finished else "running"
        return Outcome(body, f"command {command_id} {state}")

    def _signal(self, request: wsman.Request, shell: Shell) -> Outcome:
        signal = request.find("rsp:Signal")
        command_id = signal.get("CommandId", "") if signal is not None else ""
        self._find_command(shell, command_id)
        with self._lock:
            shell.commands.pop(command_id, None)
        return Outcome(
            wsman.signal_response(request), f"command {command_id} terminated"
        )
