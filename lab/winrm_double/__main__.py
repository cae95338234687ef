"""Run the WS-Management test double for one lab host in the foreground.

    python -m lab.winrm_double --host sphere01 --image lab/images/sphere01 \\
        --address 127.0.0.2 --https-port 5986 --http-port 5985 \\
        --cert lab/.run/pki/sphere01-winrm.pem --key lab/.run/pki/sphere01-winrm.key \\
        --user lab-auditor --password-file lab/.run/secrets/winrm-password \\
        --log lab/.run/logs/winrm-sphere01.log

The root store of hosts whose windows.json sets root_store_include_lab_ca
gets ``<pki-dir>/ca.pem`` (default lab/.run/pki). For a monitored Windows
host, ``--tcp-listen 135,445`` also holds the DCOM/WMI and SMB ports open
(accept and close, no protocol). Run it from the repository
root (``lab`` and ``sphere_stig`` must be importable).

SIGTERM or Ctrl-C stops it cleanly (exit status 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import serve
from lab.winrm_double.image import ImageError
from lab.winrm_double.server import DoubleConfig, WinRMDouble

DEFAULT_PKI_DIR = Path(__file__).resolve().parents[1] / ".run" / "pki"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.winrm_double",
        description=(
            "WS-Management test double for a lab host: answers the suite's "
            "collector scripts from a host image. It runs no PowerShell."
        ),
    )
    parser.add_argument("--host", required=True, help="lab host name, e.g. sphere01")
    parser.add_argument(
        "--image", required=True, type=Path, help="image folder (fs/ and windows.json)"
    )
    parser.add_argument(
        "--address", required=True, help="loopback address to bind, e.g. 127.0.0.2"
    )
    parser.add_argument(
        "--https-port", type=int, default=5986, help="HTTPS listener port (0: none)"
    )
    parser.add_argument(
        "--http-port", type=int, default=5985, help="HTTP listener port (0: none)"
    )
    parser.add_argument(
        "--cert", type=Path, help="PEM certificate (chain) of the HTTPS listener"
    )
    parser.add_argument(
        "--key", type=Path, help="PEM private key of the HTTPS listener"
    )
    parser.add_argument(
        "--user", required=True, help="the one user Basic authentication accepts"
    )
    parser.add_argument(
        "--password-file",
        required=True,
        type=Path,
        help="file holding that user's password",
    )
    parser.add_argument(
        "--pki-dir",
        type=Path,
        default=DEFAULT_PKI_DIR,
        help="lab PKI folder; its ca.pem joins the root store of hosts that trust it",
    )
    parser.add_argument(
        "--tcp-listen",
        type=_ports,
        default=(),
        metavar="PORTS",
        help=(
            "comma-separated TCP ports to accept and close connections on, for "
            "the Windows ports a remote agent uses (e.g. 135,445)"
        ),
    )
    parser.add_argument("--log", type=Path, help="log file (default: stderr)")
    return parser.parse_args(argv)


def _ports(text: str) -> tuple[int, ...]:
    try:
        ports = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of ports: {text!r}") from None
    if not all(0 < p < 65536 for p in ports):
        raise argparse.ArgumentTypeError(f"ports must be 1-65535: {text!r}")
    return ports


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    serve.log_to(args.log)
    password = serve.read_password(args.password_file)
    if password is None:
        return 2
    config = DoubleConfig(
        host=args.host,
        image=args.image,
        address=args.address,
        https_port=args.https_port or None,
        http_port=args.http_port or None,
        cert=args.cert,
        key=args.key,
        user=args.user,
        password=password,
        pki_dir=args.pki_dir,
        tcp_ports=args.tcp_listen,
    )
    try:
        double = WinRMDouble(config)
        double.start()
    except (ImageError, ValueError, OSError) as exc:
        return serve.refuse_start(
            "lab.winrm_double", f"WS-Management test double for {args.host}", exc
        )

    serve.until_signalled()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
