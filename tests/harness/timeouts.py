"""How long the harness waits for a peer program it started (pagerd, Alertmanager, Prometheus, Prism,
Postfix, Nagios) to be ready. A bound, not a measurement: a peer that exits is reported at once, while
one that is only slow to start (the suite runs in several workers on 2 cores, and the machine may be
busy with more than the suite) gets this long before its start counts as failed."""

START_TIMEOUT = 60.0
