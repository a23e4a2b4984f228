"""The PostgreSQL ceiling of `make bench-postgres`: read + JSON-parse the body, then group-committed inserts
over asyncpg.

    python bench/baseline_asyncpg.py --listen 127.0.0.1:PORT --dsn postgresql://.../DB

The same durability contract as pagerd on PostgreSQL: one writer (a task holding one asyncpg connection),
group commit (the writer takes everything queued, up to MAX_BATCH, inserts it in one transaction and
commits once; the next transaction starts as soon as the previous one returns), and every request is
answered only after the commit that holds its rows. The server's synchronous_commit decides what a commit
waits for; the bench sets it to `on` on the database (the server's flush to disk).

What is stored per request: the raw body in `deliveries` and one row per alert in `alerts` (group key,
fingerprint, status, labels as JSON), as bench/baseline_durable.py does on SQLite. No validation, no dedup,
no incident logic: the least a durable receiver of the same bodies can do on this database.
`GET /healthz` answers 200. SIGTERM/SIGINT stop it (the writer finishes its queue first).
"""

from __future__ import annotations

import argparse
import asyncio
import json

import asyncpg
from aiohttp import web

MAX_BATCH = 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (id BIGSERIAL PRIMARY KEY, group_key TEXT NOT NULL, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (id BIGSERIAL PRIMARY KEY, delivery_id BIGINT NOT NULL, group_key TEXT NOT NULL,
                                   fingerprint TEXT NOT NULL, status TEXT NOT NULL, labels TEXT NOT NULL);
"""


class Writer:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.q: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            first = await self.q.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH and not self.q.empty():
                nxt = self.q.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                async with self.conn.transaction():
                    for group_key, body, alerts, _fut in batch:
                        did = await self.conn.fetchval(
                            "INSERT INTO deliveries (group_key, body) VALUES ($1, $2) RETURNING id", group_key, body
                        )
                        await self.conn.executemany(
                            "INSERT INTO alerts (delivery_id, group_key, fingerprint, status, labels) "
                            "VALUES ($1, $2, $3, $4, $5)",
                            [(did, group_key, *a) for a in alerts],
                        )
            except Exception as exc:
                error = exc
            for *_job, fut in batch:
                if fut.done():
                    continue
                if error is not None:
                    fut.set_exception(error)
                else:
                    fut.set_result(None)
            if stop:
                return

    async def write(self, group_key: str, body: bytes, alerts: list[tuple]) -> None:
        fut = asyncio.get_running_loop().create_future()
        self.q.put_nowait((group_key, body, alerts, fut))
        await fut

    async def stop(self) -> None:
        self.q.put_nowait(None)
        await asyncio.wait_for(self.task, 30)
        await self.conn.close()


WRITER = web.AppKey("writer", Writer)


async def alertmanager(request: web.Request) -> web.Response:
    body = await request.read()
    hook = json.loads(body)
    alerts = [
        (a.get("fingerprint", ""), a["status"], json.dumps(a["labels"], separators=(",", ":"))) for a in hook["alerts"]
    ]
    await request.app[WRITER].write(hook["groupKey"], body, alerts)
    return web.json_response({"status": "ok", "alerts": len(alerts)})


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:8083")
    ap.add_argument("--dsn", required=True)
    args = ap.parse_args()
    host, _, port = args.listen.rpartition(":")

    async def start_writer(app: web.Application) -> None:
        conn = await asyncpg.connect(args.dsn)
        await conn.execute(SCHEMA)
        app[WRITER] = Writer(conn)

    async def stop_writer(app: web.Application) -> None:
        await app[WRITER].stop()

    app = web.Application(client_max_size=1 << 20)
    app.on_startup.append(start_writer)
    app.on_cleanup.append(stop_writer)
    app.router.add_post("/api/v1/alerts/alertmanager", alertmanager)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=host, port=int(port), access_log=None, print=None, backlog=2048)


if __name__ == "__main__":
    main()
