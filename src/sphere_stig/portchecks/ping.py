"""``icmp_tcp_any`` rows: the monitor and agents ping the hosts they watch.

Legend 6 of the port table allows any TCP port, chosen per host, in place of
ICMP. The suite sends one ICMP echo from the runner with the system's
``ping``; a host that filters ICMP but is pinged over TCP by Sphere needs a
reviewer's look at which port Sphere uses.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

from sphere_stig import catalog
from sphere_stig.inventory import Host
from sphere_stig.outcome import Evidence, Verdict, judge, not_reviewed
from sphere_stig.ports import port_check

log = logging.getLogger(__name__)


@port_check("icmp_tcp_any")
def icmp_tcp_any(row: catalog.PortRow, host: Host) -> Verdict:
    ping = shutil.which("ping")
    if ping is None:
        return not_reviewed(
            "no ping command on the runner (Debian: apt-get install iputils-ping); "
            f"confirm that {row.source} can ping {host.name} ({row.protocols})"
        )
    timeout = max(1, int(host.connections.tls.connect_timeout))
    log.debug("RUN ping -c 1 -W %d %s", timeout, host.address)
    proc = subprocess.run(
        [ping, "-n", "-c", "1", "-W", str(timeout), host.address],
        capture_output=True,
        text=True,
        timeout=timeout + 5,
    )
    answered = proc.returncode == 0
    # The packet counts, not the round-trip times: those differ on every run
    # and would show up as changed evidence when two runs are compared.
    lines = proc.stdout.strip().splitlines()
    counts = next((line for line in lines if "transmitted" in line), None)
    last = (
        counts.split(", time ")[0] if counts else (lines or [proc.stderr.strip()])[-1]
    )
    return judge(
        f"{host.name} answers ICMP echo",
        f"{host.name} does not answer ICMP echo; if Sphere pings it over a TCP "
        "port instead (legend 6), check that port",
        Evidence(
            item=f"ICMP echo to {host.name}",
            observed=f"{'reply' if answered else 'no reply'} ({last})",
            expected="an echo reply (or a TCP port Sphere uses instead, legend 6)",
            source=f"ping from the suite runner to {host.address}",
            ok=answered,
        ),
    )
