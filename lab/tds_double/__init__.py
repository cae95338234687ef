"""A TDS test double that stands in for the lab's SQL Server: not SQL Server.

It speaks the Tabular Data Stream protocol the way SQL Server 2022 does from
the first PRELOGIN to a finished login (TDS 7.4 with TLS inside PRELOGIN
packets, and TDS 8 "strict" with TLS first), so that the suite's own TDS
probe and real clients (python-tds, pymssql/FreeTDS) can be tested over the
network. It keeps no data and runs no T-SQL: after login it answers
``SELECT 1``, ``SELECT @@VERSION`` and little else. A SQL Server Browser
stand-in on UDP answers for its one instance. Start it with
``python -m lab.tds_double --help``.
"""

from lab.tds_double.browser import BrowserResponder, Instance
from lab.tds_double.server import MODES, DoubleConfig, TdsDouble

__all__ = ["MODES", "BrowserResponder", "DoubleConfig", "Instance", "TdsDouble"]
