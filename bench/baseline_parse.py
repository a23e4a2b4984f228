"""Baseline (a), the ceiling: a bare aiohttp handler that only reads and JSON-parses the body.

    python bench/baseline_parse.py --listen 127.0.0.1:PORT

No auth, no validation, no storage, no access log: whatever pagerd does on top of this costs
throughput, so this is the most a single-process aiohttp server on this core can answer.
`GET /healthz` answers 200 for the readiness probe of bench/run.py. SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import json

from aiohttp import web


async def alertmanager(request: web.Request) -> web.Response:
    body = await request.read()
    hook = json.loads(body)
    return web.json_response({"status": "ok", "alerts": len(hook["alerts"])})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:8081")
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/api/v1/alerts/alertmanager", alertmanager)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=host, port=int(port), access_log=None, print=None, backlog=2048)


if __name__ == "__main__":
    main()
