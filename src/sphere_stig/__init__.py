"""Acceptance suite for ISEC7 Sphere deployments against the DISA STIG."""

__version__ = "0.1.0"
