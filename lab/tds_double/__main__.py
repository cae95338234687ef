"""Run the TDS test double (and its Browser stand-in) in the foreground.

    python -m lab.tds_double --address 127.0.0.7 --port 1433 \\
        --cert lab/.run/pki/sql1-tds.pem --key lab/.run/pki/sql1-tds.key \\
        --mode forced --user lab --password-file lab/.run/secrets/sql-password \\
        --instance SPHERE --browser-port 1434 --log lab/.run/logs/sql1-tds.log

Run it from the repository root (``lab`` must be importable). SIGTERM or
Ctrl-C stops it cleanly (exit status 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab import serve
from lab.tds_double.browser import BrowserResponder, Instance
from lab.tds_double.server import MODES, PRODUCT_VERSION, DoubleConfig, TdsDouble


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m lab.tds_double",
        description=(
            "TDS test double standing in for SQL Server: PRELOGIN, TLS, LOGIN7 "
            "and a few batches. It is not SQL Server and stores nothing."
        ),
    )
    parser.add_argument(
        "--address", required=True, help="address to bind, e.g. 127.0.0.7"
    )
    parser.add_argument(
        "--port", type=int, default=1433, help="TDS port (default 1433)"
    )
    parser.add_argument("--cert", type=Path, help="PEM certificate chain (leaf first)")
    parser.add_argument("--key", type=Path, help="PEM private key")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="forced",
        help="forced: Force Encryption on; optional: off; off: no certificate; "
        "strict: Force Strict Encryption (TDS 8 only)",
    )
    parser.add_argument("--user", required=True, help="the one SQL login accepted")
    parser.add_argument(
        "--password-file", required=True, type=Path, help="file holding its password"
    )
    parser.add_argument("--instance", default="", help="instance name, e.g. SPHERE")
    parser.add_argument(
        "--server-name",
        help="NetBIOS name of the machine (default SQL1)",
    )
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        help="a user database the login may open (repeatable)",
    )
    parser.add_argument(
        "--tls-min",
        default="1.2",
        choices=("1.0", "1.1", "1.2", "1.3"),
        help="lowest TLS version accepted (default 1.2)",
    )
    parser.add_argument(
        "--browser-port",
        type=int,
        default=0,
        help="UDP port of the SQL Server Browser stand-in (0: none)",
    )
    parser.add_argument("--log", type=Path, help="log file (default: stderr)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    serve.log_to(args.log)
    password = serve.read_password(args.password_file)
    if password is None:
        return 2
    config = DoubleConfig(
        address=args.address,
        port=args.port,
        mode=args.mode,
        user=args.user,
        password=password,
        instance=args.instance,
        server_name=(args.server_name or "SQL1").upper(),
        cert=args.cert,
        key=args.key,
        tls_min=args.tls_min,
        databases=tuple(args.database),
    )
    browser = None
    try:
        double = TdsDouble(config)
        double.start()
        if args.browser_port:
            version = ".".join(str(n) for n in PRODUCT_VERSION)
            instance = Instance(
                config.server_name, args.instance or "MSSQLSERVER", version, double.port
            )
            browser = BrowserResponder(args.address, args.browser_port, [instance])
            browser.start()
    except (ValueError, OSError) as exc:  # ssl.SSLError is an OSError
        return serve.refuse_start(
            "lab.tds_double", f"TDS test double on {args.address}", exc
        )

    serve.until_signalled()
    if browser is not None:
        browser.stop()
    double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
