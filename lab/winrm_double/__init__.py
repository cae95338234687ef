"""A WS-Management test double that stands in for a lab host's WinRM service.

It speaks the WinRM shell protocol over HTTPS and HTTP so that the suite's
real pywinrm client can be tested over the network, but it runs no
PowerShell: it answers the suite's collector scripts from a host image
(``lab/images/<host>/``) and refuses everything else. Start it with
``python -m lab.winrm_double --help``.
"""

from lab.winrm_double.server import DoubleConfig, WinRMDouble

__all__ = ["DoubleConfig", "WinRMDouble"]
