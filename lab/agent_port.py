"""A stand-in for the ISEC7 Sphere Monitor's agent port (TCP 13657).

The real Monitor is a Windows service the lab cannot run. This process only
accepts TCP connections on the port and closes them: it speaks no ISEC7
protocol, and it exists so that the port table's "Agents -> Monitor 13657"
row has a real socket to probe on the hardened lab host.
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def _serve(address: str, port: int) -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writer.close()

    server = await asyncio.start_server(close_at_once, address, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"agent-port stand-in listening on {address}:{port}", flush=True)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=13657)
    # Only so that lab/down can tell this process is the lab's (it matches
    # command lines on lab/.run/).
    parser.add_argument("--run-dir", default="lab/.run")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.address, args.port))


if __name__ == "__main__":
    main()
