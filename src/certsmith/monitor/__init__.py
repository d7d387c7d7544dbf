"""What is actually served: compare what a TLS endpoint presents with the lineage on disk.

findings.py   the stable vocabulary: Severity, Code, Finding (``certsmith check --json``)
served.py     fetch a served chain (TLS handshake, verification off, then verified here)
compare.py    the rules: a lineage (and what an endpoint serves) -> findings
check.py      one `certsmith check`: the report, its --json document, the Prometheus text
schedule.py   `certsmith schedule`: systemd units or a cron line, certbot's scheduler detected

Layering: cli -> monitor -> {storage, renewal.policy, crypto}. Nothing here prints.
"""
