"""A bounded open-loop load generator: single-alert Alertmanager webhooks at a fixed request rate.

    python bench/openloop.py --url URL --rate 1000 --duration 10 --prefix r --token TOKEN

Why not wrk: Debian ships wrk 4.1, not wrk2. wrk is closed-loop (each connection sends its next
request only after the previous answer), so a slow answer delays the requests behind it and they
are never measured ("coordinated omission"); a Lua `delay()` per connection only spaces requests
*after* each answer, so the rate still drops whenever the server slows down. This generator keeps
the schedule whatever the server does: request i is due at t0 + i/rate, it is started when due
(on a free or new keep-alive connection), and its latency is measured from the time it was *due*,
not from when it was sent. Client-side lag (started later than due) is therefore charged to the
latency, as a real Alertmanager would see it; it is reported separately (`lag_*`) so the
generator's own floor is visible (compare the parse-only baseline, which is as fast as aiohttp gets).

Bounded: exactly rate*duration requests, each with a timeout; the run ends at most
duration + timeout + 5 s after it starts. Prints one line `BENCHJSON {...}` with the counts and
latency percentiles (microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math

import aiohttp

TEMPLATE = (
    '{"version":"4","groupKey":"{}:{alertname=\\"BenchRate\\",bench_id=\\"%(id)s\\"}",'
    '"truncatedAlerts":0,"status":"firing","receiver":"pagerd",'
    '"groupLabels":{"alertname":"BenchRate","bench_id":"%(id)s"},'
    '"commonLabels":{"alertname":"BenchRate","bench_id":"%(id)s","customer":"agency","severity":"critical"},'
    '"commonAnnotations":{"summary":"Bench alert %(id)s"},"externalURL":"http://alertmanager.example:9093",'
    '"alerts":[{"status":"firing","labels":{"alertname":"BenchRate","bench_id":"%(id)s","customer":"agency",'
    '"severity":"critical","instance":"web1:9100"},"annotations":{"summary":"Bench alert %(id)s",'
    '"description":"/var is 97%% full"},"startsAt":"2026-11-25T14:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",'
    '"generatorURL":"http://prometheus.example:9090/graph?g0.expr=disk","fingerprint":"%(id)s"}]}'
)


def body(prefix: str, i: int) -> bytes:
    return (TEMPLATE % {"id": f"{prefix}-{i}"}).encode()


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


async def run(
    url: str, rate: float, duration: float, prefix: str, token: str, timeout: float, max_connections: int
) -> dict:
    total = int(rate * duration)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    bodies = [body(prefix, i) for i in range(total)]  # built up front: no JSON work on the schedule
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    in_flight = 0
    peak_in_flight = 0
    conn = aiohttp.TCPConnector(limit=max_connections, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=conn, timeout=client_timeout) as session:
        loop = asyncio.get_running_loop()

        async def one(i: int, due: float) -> None:
            nonlocal in_flight, peak_in_flight
            in_flight += 1
            peak_in_flight = max(peak_in_flight, in_flight)
            lags.append(loop.time() - due)
            try:
                async with session.post(url, data=bodies[i], headers=headers) as resp:
                    await resp.read()
                    key = str(resp.status)
                    statuses[key] = statuses.get(key, 0) + 1
                    if 200 <= resp.status < 300:
                        latencies.append(loop.time() - due)
            except Exception as exc:  # timeouts, resets: counted, never retried
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            finally:
                in_flight -= 1

        tasks: list[asyncio.Task] = []
        t0 = loop.time() + 0.05
        i = 0
        while i < total:
            now = loop.time()
            due_count = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
            while i < due_count:
                tasks.append(loop.create_task(one(i, t0 + i / rate)))
                i += 1
            if i < total:
                next_due = t0 + i / rate
                await asyncio.sleep(max(0.0, next_due - loop.time()))
        send_end = loop.time()
        done, pending = await asyncio.wait(tasks, timeout=timeout + 5) if tasks else (set(), set())
        for t in pending:
            t.cancel()
        if pending:
            errors["abandoned"] = len(pending)
            await asyncio.wait(pending, timeout=5)
        wall = loop.time() - t0
    latencies.sort()
    lags.sort()
    ok = sum(n for s, n in statuses.items() if s.startswith("2"))
    us = 1e6
    return {
        "target_rate": rate,
        "duration_s": duration,
        "sent": total,
        "ok_2xx": ok,
        "non_2xx": sum(n for s, n in statuses.items() if not s.startswith("2")),
        "statuses": statuses,
        "errors": errors,
        "achieved_send_rate": total / max(1e-9, send_end - t0),
        "wall_s": wall,
        "lat_p50_us": pct(latencies, 50) * us,
        "lat_p90_us": pct(latencies, 90) * us,
        "lat_p99_us": pct(latencies, 99) * us,
        "lat_p999_us": pct(latencies, 99.9) * us,
        "lat_max_us": (latencies[-1] * us) if latencies else float("nan"),
        "lag_p50_us": pct(lags, 50) * us,
        "lag_p99_us": pct(lags, 99) * us,
        "lag_max_us": (lags[-1] * us) if lags else float("nan"),
        "peak_in_flight": peak_in_flight,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=1000.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of schedule")
    ap.add_argument("--prefix", default="r", help="prefix of the unique alert identities")
    ap.add_argument("--token", default="make-run-development-webhook-token-not-a-secret")  # `make run`'s
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, seconds")
    ap.add_argument("--max-connections", type=int, default=256)
    args = ap.parse_args()
    if args.rate <= 0 or args.duration <= 0 or args.rate * args.duration > 1_000_000:
        raise SystemExit("openloop: need 0 < rate*duration <= 1,000,000")
    result = asyncio.run(
        run(args.url, args.rate, args.duration, args.prefix, args.token, args.timeout, args.max_connections)
    )
    print("BENCHJSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
