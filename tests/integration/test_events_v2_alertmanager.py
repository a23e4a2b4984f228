"""pagerd as a PagerDuty Events API v2 endpoint for a real Alertmanager's `pagerduty_configs`.

Alertmanager sends one event per group: `event_action` trigger while any alert fires, resolve when
all are resolved, with `dedup_key` = sha256 hex of the group key and `routing_key` from its config.
"""

from __future__ import annotations

import pytest

from tests.conftest import require_binary
from tests.harness.alertmanager import ALERTMANAGER_BIN, Alertmanager

pytestmark = pytest.mark.peer("alertmanager")

NOTIFY_TIMEOUT = 12.0


@pytest.fixture
def am(tmp_path, pagerd):
    """An Alertmanager whose pagerduty_configs point at pagerd with the routing key pagerd accepts."""
    require_binary(ALERTMANAGER_BIN)
    a = Alertmanager(
        tmp_path / "alertmanager", target=pagerd.url, token=pagerd.webhook_token, receiver="events_v2"
    ).start()
    yield a
    a.stop()
    print(f"--- alertmanager log (tail) ---\n{a.log_tail(3000)}")
    print(f"--- pagerd log (tail) ---\n{pagerd.log_path.read_text(errors='replace')[-3000:]}")


def events_v2(p) -> list[dict]:
    return [i for i in p.incidents() if i.get("source") == "events_v2"]


def test_pagerduty_config_triggers_and_resolves_one_incident(pagerd, am):
    a1 = {"alertname": "BackupFailed", "group": "storage", "instance": "nas1", "severity": "critical"}
    a2 = {"alertname": "BackupFailed", "group": "storage", "instance": "nas2", "severity": "critical"}
    am.fire_many([(a1, {"summary": "backup failed on nas1"}), (a2, {"summary": "backup failed on nas2"})])

    (inc,) = pagerd.wait_for(lambda p: events_v2(p), NOTIFY_TIMEOUT)
    assert inc["state"] == "triggered"
    assert inc["dedup_key"] == am.dedup_key(a1), (inc["dedup_key"], am.group_key(a1))
    sent, failed = am.wait_for(lambda a: (n := a.notifications("pagerduty"))[0] >= 1 and n, 5.0)
    assert failed == 0, "pagerd refused Alertmanager's Events v2 trigger"

    # One alert resolves: Alertmanager sends another *trigger* for the group (FIRING:1), same key.
    am.resolve(a1)
    am.wait_for(lambda a: a.notifications("pagerduty")[0] >= sent + 1, NOTIFY_TIMEOUT)
    sent, failed = am.notifications("pagerduty")
    assert failed == 0, "pagerd refused a repeat trigger"
    incidents = pagerd.incidents()
    assert len(incidents) == 1, incidents
    assert incidents[0]["state"] == "triggered"

    # The whole group resolves: event_action resolve -> incident resolved.
    am.resolve(a2)
    inc = pagerd.wait_for(lambda p: (i := events_v2(p)) and i[0]["state"] == "resolved" and i[0], NOTIFY_TIMEOUT)
    assert inc["resolved_at"]
    assert inc["dedup_key"] == am.dedup_key(a2)
    assert am.notifications("pagerduty")[1] == 0
    assert len(pagerd.incidents()) == 1


def test_second_group_is_a_second_dedup_key(pagerd, am):
    x = {"alertname": "CertExpiry", "group": "edge", "instance": "lb1"}
    y = {"alertname": "CertExpiry", "group": "mail", "instance": "mx1"}
    am.fire_many([(x, {"summary": "cert lb1"}), (y, {"summary": "cert mx1"})])
    incidents = pagerd.wait_for(lambda p: len(i := events_v2(p)) >= 2 and i, NOTIFY_TIMEOUT)
    assert sorted(i["dedup_key"] for i in incidents) == sorted([am.dedup_key(x), am.dedup_key(y)])
    assert all(i["state"] == "triggered" for i in incidents)


def test_unknown_routing_key_is_refused_and_nothing_stored(pagerd):
    require_binary(ALERTMANAGER_BIN)
    a = Alertmanager(
        pagerd.workdir.parent / "alertmanager-badkey",
        target=pagerd.url,
        token="no-such-routing-key",
        receiver="events_v2",
    ).start()
    try:
        a.fire({"alertname": "Spoofed", "group": "x", "instance": "y"}, {"summary": "should not land"})
        # A 4xx is not retried by pagerduty_configs: the first delivery (~1 s) counts as failed.
        a.wait_for(lambda am_: am_.notifications("pagerduty")[1] >= 1, NOTIFY_TIMEOUT)
        assert "unexpected status code 4" in a.log_tail(20000), a.log_tail(3000)
        assert pagerd.incidents() == []
    finally:
        a.stop()
