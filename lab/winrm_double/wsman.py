"""WS-Management messages: reading SOAP requests, writing responses and faults.

Only what a WinRM shell client sends is understood: the transfer actions
Create and Delete on the cmd shell resource, the shell actions Command,
Receive and Signal, and the anonymous Identify. Responses use the namespace
prefixes Windows uses (``s``, ``a``, ``w``, ``rsp``), because some clients
search for tags by suffix rather than by namespace.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree as SafeET

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wsmid": "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd",
}

SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
COMMAND_STATE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/"
SIGNAL_TERMINATE = (
    "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/signal/terminate"
)

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command"
ACTION_RECEIVE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive"
ACTION_SIGNAL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal"
ACTION_FAULT_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ACTION_FAULT_ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"

# Short names for log lines.
ACTION_NAMES = {
    ACTION_CREATE: "Create",
    ACTION_DELETE: "Delete",
    ACTION_COMMAND: "Command",
    ACTION_RECEIVE: "Receive",
    ACTION_SIGNAL: "Signal",
}

DEFAULT_MAX_ENVELOPE = 153600

# WinRM error numbers carried in the WSManFault Code attribute.
CODE_SHELL_NOT_FOUND = 2150858843
# Where the double does not know the number a host would send, it uses
# E_INVALIDARG, which WinRM attaches to many request errors.
CODE_INVALID_ARGUMENT = 2147942487
# ERROR_FILENAME_EXCED_RANGE from CreateProcess for an over-long command line.
CODE_COMMAND_LINE_TOO_LONG = 206


class MalformedRequest(Exception):
    """The request body is not a SOAP envelope the double can read."""


@dataclass
class Request:
    """The parts of a WS-Management request the double acts on."""

    action: str
    resource_uri: str
    message_id: str
    selectors: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    max_envelope: int = DEFAULT_MAX_ENVELOPE
    body: Element | None = None

    @property
    def name(self) -> str:
        return ACTION_NAMES.get(self.action, self.action.rsplit("/", 1)[-1] or "?")

    @property
    def shell_id(self) -> str | None:
        return self.selectors.get("ShellId")

    def find(self, path: str) -> Element | None:
        return None if self.body is None else self.body.find(path, NS)


@dataclass
class Fault(Exception):
    """A SOAP fault the way WinRM words it (sent with HTTP 500)."""

    subcode: str
    reason: str
    code: int
    message: str = ""
    sender: bool = True

    @property
    def action(self) -> str:
        if self.subcode.startswith("a:"):
            return ACTION_FAULT_ADDRESSING
        return ACTION_FAULT_WSMAN


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def parse_request(data: bytes) -> Request:
    """Read a SOAP envelope; DTDs and entities are refused (defusedxml)."""
    try:
        root = SafeET.fromstring(data)
    except Exception as exc:
        raise MalformedRequest(f"not well-formed XML ({exc})") from None
    if root.tag != f"{{{NS['s']}}}Envelope":
        raise MalformedRequest("the root element is not a SOAP 1.2 Envelope")
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    max_env = _text(header.find("w:MaxEnvelopeSize", NS)) if header is not None else ""
    request = Request(
        action=_text(header.find("a:Action", NS)) if header is not None else "",
        resource_uri=_text(header.find("w:ResourceURI", NS))
        if header is not None
        else "",
        message_id=_text(header.find("a:MessageID", NS)) if header is not None else "",
        max_envelope=int(max_env) if max_env.isdigit() else DEFAULT_MAX_ENVELOPE,
        body=body,
    )
    if header is not None:
        for selector in header.iterfind("w:SelectorSet/w:Selector", NS):
            request.selectors[selector.get("Name", "")] = _text(selector)
        for option in header.iterfind("w:OptionSet/w:Option", NS):
            request.options[option.get("Name", "").upper()] = _text(option)
    return request


def is_identify(data: bytes) -> bool:
    try:
        root = SafeET.fromstring(data)
    except Exception:
        return False
    return root.find("s:Body/wsmid:Identify", NS) is not None


def new_id() -> str:
    # Windows writes GUIDs in upper case.
    return str(uuid.uuid4()).upper()


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    namespaces = " ".join(
        f"xmlns:{prefix}={quoteattr(NS[prefix])}"
        for prefix in ("s", "a", "x", "w", "rsp", "p")
    )
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f'<s:Envelope xml:lang="en-US" {namespaces}>'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{new_id()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"{relates}"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).encode()


def create_response(
    request: Request, endpoint: str, shell_id: str, owner: str, client_ip: str
) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(endpoint)}</a:Address>"
        "<a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_URI}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector>'
        "</w:SelectorSet>"
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        "<rsp:Shell>"
        f"<rsp:ShellId>{shell_id}</rsp:ShellId>"
        f"<rsp:ResourceUri>{SHELL_URI}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner>"
        f"<rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
        "</rsp:Shell>"
    )
    return _envelope(ACTION_CREATE + "Response", request.message_id, body)


def delete_response(request: Request) -> bytes:
    return _envelope(ACTION_DELETE + "Response", request.message_id, "")


def command_response(request: Request, command_id: str) -> bytes:
    body = (
        "<rsp:CommandResponse>"
        f"<rsp:CommandId>{command_id}</rsp:CommandId>"
        "</rsp:CommandResponse>"
    )
    return _envelope(ACTION_COMMAND + "Response", request.message_id, body)


def signal_response(request: Request) -> bytes:
    return _envelope(
        ACTION_SIGNAL + "Response", request.message_id, "<rsp:SignalResponse/>"
    )


def receive_response(
    request: Request,
    command_id: str,
    streams: list[tuple[str, str, bool]],
    exit_code: int | None,
) -> bytes:
    """``streams``: (name, base64 text, end of stream); exit_code None: running."""
    parts = ["<rsp:ReceiveResponse>"]
    for name, data, end in streams:
        end_attr = ' End="true"' if end else ""
        parts.append(
            f'<rsp:Stream Name="{name}" CommandId="{command_id}"{end_attr}>'
            f"{data}</rsp:Stream>"
        )
    if exit_code is None:
        parts.append(
            f'<rsp:CommandState CommandId="{command_id}" '
            f'State="{COMMAND_STATE}Running"/>'
        )
    else:
        parts.append(
            f'<rsp:CommandState CommandId="{command_id}" State="{COMMAND_STATE}Done">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    parts.append("</rsp:ReceiveResponse>")
    return _envelope(ACTION_RECEIVE + "Response", request.message_id, "".join(parts))


def fault_response(fault: Fault, relates_to: str, machine: str) -> bytes:
    role = "s:Sender" if fault.sender else "s:Receiver"
    message = fault.message or fault.reason
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{role}</s:Value>"
        f"<s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.code}" '
        f"Machine={quoteattr(machine)}>"
        f"<f:Message>{escape(message)}</f:Message>"
        "</f:WSManFault>"
        "</s:Detail>"
        "</s:Fault>"
    )
    return _envelope(fault.action, relates_to, body)


def identify_response() -> bytes:
    # Unauthenticated Identify: Windows hides its OS version ("OS: 0.0.0").
    return (
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:wsmid="{NS["wsmid"]}">'
        "<s:Header/>"
        "<s:Body><wsmid:IdentifyResponse>"
        "<wsmid:ProtocolVersion>http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd</wsmid:ProtocolVersion>"
        "<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
        "<wsmid:ProductVersion>OS: 0.0.0 SP: 0.0 Stack: 3.0</wsmid:ProductVersion>"
        "</wsmid:IdentifyResponse></s:Body>"
        "</s:Envelope>"
    ).encode()


def shell_not_found(shell_id: str) -> Fault:
    return Fault(
        subcode="w:InvalidSelectors",
        reason=(
            "The WS-Management service cannot process the request because the "
            "request contained invalid selectors for the resource."
        ),
        code=CODE_SHELL_NOT_FOUND,
        message=(
            f"The request for the Windows Remote Shell with ShellId {shell_id} "
            "failed because the shell was not found on the server. Possible "
            "causes are: the specified ShellId is incorrect or the shell no "
            "longer exists on the server."
        ),
    )


def invalid(reason: str, subcode: str = "w:InvalidParameter") -> Fault:
    return Fault(subcode=subcode, reason=reason, code=CODE_INVALID_ARGUMENT)
