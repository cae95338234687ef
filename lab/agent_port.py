"""A stand-in for the ISEC7 Sphere Monitor's sockets: TCP 13657 and UDP 1620.

The real Monitor is a Windows service the lab cannot run. This process only
accepts TCP connections on the agent port and closes them, and binds the
SNMP trap port and drops what arrives there: it speaks no ISEC7 protocol and
decodes no trap. It exists so that the port table's "Agents -> Monitor 13657"
and "UEM Core -> Monitor 1620 (UDP)" rows have real sockets on the hardened
lab host: the first for the runner's probe, the second for the WinRM
double's answer to Get-NetUDPEndpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import signal


async def _serve(address: str, port: int, trap_port: int) -> None:
    async def close_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writer.close()

    server = await asyncio.start_server(close_at_once, address, port)
    loop = asyncio.get_running_loop()
    traps, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=(address, trap_port)
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"Monitor stand-in on {address}: TCP {port} accepts, UDP {trap_port} bound",
        flush=True,
    )
    async with server:
        await stop.wait()
    traps.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=13657)
    parser.add_argument("--trap-port", type=int, default=1620)
    # Only so that lab/down can tell this process is the lab's (it matches
    # command lines on lab/.run/).
    parser.add_argument("--run-dir", default="lab/.run")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.address, args.port, args.trap_port))


if __name__ == "__main__":
    main()
