"""Protocol-level port checks (LDAP, DNS, SMTP, SNMP, SQL, traps), one module each.

Each module registers its checks with :func:`sphere_stig.ports.port_check`;
importing this package registers them all.
"""

from sphere_stig.portchecks import (
    ldap,  # noqa: F401
    ping,  # noqa: F401
    smtp,  # noqa: F401
    snmp,  # noqa: F401
    sql,  # noqa: F401
    trap,  # noqa: F401
    udp,  # noqa: F401
)
