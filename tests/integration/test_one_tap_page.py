"""What a page says and what its one-tap page does, against the real daemon paging through the official
Twilio SDK at Prism (Twilio's own OpenAPI contract):

- the SMS names customer and project and fits one GSM-7 segment with its link;
- a group of alerts is paged as how many and what they share, not as its first alert;
- the one-tap page shows the incident with three buttons (acknowledge, resolve, escalate), each a POST
  form with a token of its own; a GET (a link previewer) acts on nothing; escalate pages the next step
  at once; an acknowledged incident is offered resolve only; a resolved one nothing.

The daemon runs the example config on the manual clock from Wednesday 2026-01-07 10:00 in Amsterdam
(office hours); the escalation's next step is 15 minutes away and the clock is not moved, so a page of
the next step can only come from the escalate button.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import yaml

from pager.domain.messages import sms_count
from tests.harness.pagerd import PagerdProcess
from tests.harness.paging import TwilioTap, events, failed_pages, fire, incident, short_config, twilio_env, wait_event
from tests.harness.prism import Prism

pytestmark = pytest.mark.peer("prism")

START = "2026-01-07T09:00:00Z"  # a Wednesday, 10:00 in Amsterdam
STEPS = [{"targets": ["oncall"], "wait": "15m"}, {"targets": ["oncall", "person:bram"], "wait": "15m"}]
FORM = re.compile(r'<form method="post" action="([A-Za-z0-9_.-]+)"><button type="submit">(\w+)</button></form>')


@pytest.fixture(scope="module")
def prism(tmp_path_factory):
    p = Prism(tmp_path_factory.mktemp("prism")).start()
    yield p
    p.stop()


@pytest.fixture
def paging(prism, tmp_path):
    tap = TwilioTap(prism.url).start()
    cfg = short_config(tmp_path / "pagerd.yaml", voice_after="2m", steps=STEPS, clock_start=START, simulate=["email"])
    d = PagerdProcess(tmp_path / "pagerd", config=cfg, extra_env=twilio_env(tap.url))
    try:
        d.start()
    except BaseException:
        tap.stop()
        raise
    yield d, tap
    d.stop()
    tap.stop()
    print(f"--- pagerd log (tail) ---\n{d.log_path.read_text(errors='replace')[-3000:]}")


def phones(d: PagerdProcess) -> dict[str, str]:
    return {pid: p["phone"] for pid, p in yaml.safe_load(d.config.read_text())["people"].items()}


def first_sms(d: PagerdProcess, tap: TwilioTap, iid: int) -> tuple[str, str]:
    """(person, SMS body) of the first page of incident `iid`."""
    inc = wait_event(d, iid, "paged", channel="sms")
    person = events(inc, "paging")[0]["data"]["people"][0]
    (req,) = [r for r in tap.sent("sms", to=phones(d)[person]) if f"[pagerd #{iid}]" in r["form"]["Body"][0]]
    return person, req["form"]["Body"][0]


def link_of(d: PagerdProcess, body: str) -> str:
    m = re.search(re.escape(d.url) + r"(/l/[A-Za-z0-9_.-]+)", body)
    assert m, body
    return m.group(1)


def buttons(page: str) -> dict[str, str]:
    """The page's buttons: label -> the path its form posts to."""
    return {label: f"/l/{token}" for token, label in FORM.findall(page)}


def post(d: PagerdProcess, path: str) -> tuple[int, str]:
    return d.request("POST", path, b"", content_type="application/x-www-form-urlencoded")


def fire_group(d: PagerdProcess, group: str, alerts: list[dict[str, str]], summary: str) -> int:
    """One Alertmanager notification of a group of several firing alerts; returns its incident."""
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{group="{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "pagerd",
        "groupLabels": {"group": group},
        "commonLabels": {"customer": "acme", "service": "webshop"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"customer": "acme", "service": "webshop", "severity": "critical", **labels},
                "annotations": {"summary": summary.format(**labels)},
                "startsAt": "2026-01-07T08:55:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16],
            }
            for labels in alerts
        ],
    }
    status, answer = d.request("POST", "/api/v1/alerts/alertmanager", json.dumps(body).encode(), token=d.webhook_token)
    assert status == 200, answer
    (iid,) = answer["incidents"]  # type: ignore[index]
    return iid


def test_the_sms_names_customer_and_project_in_one_segment(paging):
    d, tap = paging
    iid = fire(d, "DiskFull", "Schijf vol op db1 — 97 % “/var” ✅", customer="acme", service="webshop")
    _, body = first_sms(d, tap, iid)
    assert body.startswith(f'[pagerd #{iid}] acme/webshop: Schijf vol op db1 - 97 % "/var" - 1=ack 2=resolve http')
    assert sms_count(body).encoding == "GSM-7" and sms_count(body).segments == 1, (body, sms_count(body))
    assert re.search(r"1=ack 2=resolve http://\S+/l/\S+$", body)


def test_a_group_of_alerts_is_paged_as_how_many_and_what_they_share(paging):
    d, tap = paging
    same = [{"alertname": "HighLatency", "instance": f"web{i}"} for i in (1, 2, 3)]
    iid = fire_group(d, "latency", same, "latency high on {instance}")
    _, body = first_sms(d, tap, iid)
    assert body.startswith(f"[pagerd #{iid}] acme/webshop: 3 alerts: HighLatency on web1, web2, web3 - 1=ack 2=resolve")
    assert sms_count(body).segments == 1
    status, page = d.request("GET", link_of(d, body))
    assert status == 200 and "3 alerts: HighLatency on web1, web2, web3" in page and "latency high on web2" in page

    mixed = [{"alertname": "DiskFull", "instance": "db1"}, {"alertname": "HighLoad", "instance": "db2"}]
    other = fire_group(d, "db", mixed, "{alertname} on {instance}")
    _, body = first_sms(d, tap, other)
    assert body.startswith(f"[pagerd #{other}] acme/webshop: 2 alerts (service=webshop): DiskFull")
    _, page = d.request("GET", link_of(d, body))
    assert "2 alerts (service=webshop): DiskFull, HighLoad" in page


def test_the_page_offers_three_actions_a_get_acts_on_nothing_and_escalate_pages_the_next_step(paging):
    d, tap = paging
    iid = fire(d, "OneTapEscalate", "api1 is down")
    person, body = first_sms(d, tap, iid)
    link = link_of(d, body)

    # link previewers fetch the link (and might follow what looks like a link): only a page, twice
    for _ in range(2):
        status, page = d.request("GET", link)
        assert status == 200 and "api1 is down" in page and "agency/infra" in page
        assert list(buttons(page)) == ["Acknowledge", "Resolve", "Escalate"]
    for path in buttons(page).values():
        assert d.request("GET", path)[0] == 200
    inc = incident(d, iid)
    assert inc["state"] == "triggered" and events(inc, "escalate_requested") == []
    assert [e["data"]["step"] for e in events(inc, "paging") + events(inc, "escalated")] == [0]

    # escalate: the next step (the on-call engineer and bram) is paged now, not in 15 minutes
    bram_before = len(tap.sent("sms", to=phones(d)["bram"]))
    status, page = post(d, buttons(page)["Escalate"])
    assert status == 200 and f"#{iid} escalated: the next step is paged now" in page
    inc = wait_event(d, iid, "escalated")
    (esc,) = events(inc, "escalated")
    assert esc["data"]["step"] == 1 and "bram" in esc["data"]["people"]
    assert events(inc, "escalate_requested")[0]["actor"] == person
    assert events(inc, "escalate_requested")[0]["data"]["via"] == "link"
    wait_event(d, iid, "paged", channel="sms", person="bram", count=1 + (person == "bram"))
    assert len(tap.sent("sms", to=phones(d)["bram"])) == bram_before + 1
    assert inc["state"] == "triggered"

    # escalated as far as it goes: the button says so and pages nobody more
    status, page = post(d, buttons(page)["Escalate"])
    assert status == 200 and f"#{iid}: not escalated: its escalation has no further step" in page
    assert len(events(incident(d, iid), "escalated")) == 1
    assert tap.rejected() == [] and failed_pages(incident(d, iid)) == []


def test_acknowledge_then_resolve_from_the_page(paging):
    d, tap = paging
    iid = fire(d, "OneTapAck", "queue backlog on mq1")
    person, body = first_sms(d, tap, iid)
    status, page = d.request("GET", link_of(d, body))
    offered = buttons(page)

    status, page = post(d, offered["Acknowledge"])
    assert status == 200 and f"#{iid} acknowledged" in page
    assert list(buttons(page)) == ["Resolve"]  # what an acknowledged incident still takes
    inc = incident(d, iid)
    assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", person)
    assert events(inc, "acknowledged")[0]["data"]["via"] == "link"

    # a button from the first page, once the incident has moved on, changes nothing and says why
    status, page = post(d, offered["Escalate"])
    assert status == 200 and f"#{iid}: not escalated: it is acknowledged" in page
    assert events(incident(d, iid), "escalate_requested") == []

    status, page = post(d, buttons(page)["Resolve"])
    assert status == 200 and f"#{iid} resolved" in page and buttons(page) == {}
    inc = incident(d, iid)
    assert (inc["state"], inc["resolved_by"]) == ("resolved", person)


def test_resolve_at_once_from_the_page(paging):
    d, tap = paging
    iid = fire(d, "OneTapResolve", "certificate renewed by hand")
    _, body = first_sms(d, tap, iid)
    _, page = d.request("GET", link_of(d, body))
    status, page = post(d, buttons(page)["Resolve"])
    assert status == 200 and f"#{iid} resolved" in page
    assert incident(d, iid)["state"] == "resolved"
