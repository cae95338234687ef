"""Protocol-level port checks (LDAP, DNS, SMTP, SNMP, SQL), one module each.

Each module registers its checks with :func:`sphere_stig.ports.port_check`;
importing this package registers them all.
"""

from sphere_stig.portchecks import udp  # noqa: F401
from sphere_stig.portchecks import smtp  # noqa: F401
from sphere_stig.portchecks import snmp  # noqa: F401
from sphere_stig.portchecks import ldap  # noqa: F401
from sphere_stig.portchecks import sql  # noqa: F401
