-- wrk script: single-alert Alertmanager v4 webhooks, each with its own groupKey and fingerprint,
-- so every request opens a new incident in pagerd (dedup_by: group_key).
--
--   wrk -t2 -c32 -d10s -s bench/single.lua URL -- <run-prefix> <bearer-token>
--
-- Pitfall (PEERS.md): thread:set() writes a *global* in the thread's Lua state. A chunk-level
-- `local tid` would shadow it, and every thread would send the same identities. So `tid`,
-- `prefix`, `sent` and `ok` below are deliberately globals; nothing set by thread:set() is `local`.

local threads = {}          -- only used in the main Lua state (setup/done); never thread:set()

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   prefix = args[1] or "run"
   token = args[2] or "dev-webhook-token"
   sent, ok, bad = 0, 0, 0
   headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }
end

local template = [[{"version":"4","groupKey":"{}:{alertname=\"BenchSingle\",bench_id=\"%s\"}",]]
   .. [["truncatedAlerts":0,"status":"firing","receiver":"pagerd",]]
   .. [["groupLabels":{"alertname":"BenchSingle","bench_id":"%s"},]]
   .. [["commonLabels":{"alertname":"BenchSingle","bench_id":"%s","customer":"agency","severity":"critical"},]]
   .. [["commonAnnotations":{"summary":"Bench alert %s"},"externalURL":"http://alertmanager.example:9093",]]
   .. [["alerts":[{"status":"firing","labels":{"alertname":"BenchSingle","bench_id":"%s","customer":"agency",]]
   .. [["severity":"critical","instance":"web1:9100"},"annotations":{"summary":"Bench alert %s",]]
   .. [["description":"/var is 97%% full"},"startsAt":"2026-11-25T14:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",]]
   .. [["generatorURL":"http://prometheus.example:9090/graph?g0.expr=disk","fingerprint":"%s"}]}]]

function request()
   sent = sent + 1
   local id = prefix .. "-" .. tid .. "-" .. sent
   local body = string.format(template, id, id, id, id, id, id, id)
   return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
   if status >= 200 and status < 300 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
   local s, o, b = 0, 0, 0
   for _, t in ipairs(threads) do
      s = s + t:get("sent"); o = o + t:get("ok"); b = b + t:get("bad")
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"duration_us":%d,"requests":%d,"sent":%d,"ok_2xx":%d,"non_2xx":%d,'
      .. '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,'
      .. '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,"lat_mean_us":%.1f,"threads":%d}\n',
      summary.duration, summary.requests, s, o, b, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      #threads))
end
