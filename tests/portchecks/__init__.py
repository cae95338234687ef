"""Port-check tests. A package so that their module names (test_snmp, ...)
may repeat those of tests/transports without clashing in pytest's imports."""
