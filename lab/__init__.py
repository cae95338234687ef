"""The local test lab: host images, throwaway PKI and real Tomcat servers.

Run ``lab/up`` and ``lab/down``; see ``lab/README.md``. Nothing in this
package is part of the installed suite.
"""
