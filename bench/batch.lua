-- wrk script: 100-alert Alertmanager v4 webhooks (one group of 100 firing alerts per request).
-- Each request has its own groupKey (so it opens one new incident in pagerd with 100 alerts) and
-- every alert its own fingerprint.
--
--   wrk -t2 -c32 -d10s -s bench/batch.lua URL -- <run-prefix> <bearer-token> [alerts-per-request]
--
-- Pitfall (PEERS.md): values written by thread:set() are globals of the thread's Lua state; none of
-- them may be declared `local` at chunk level (that would hide them and repeat identities).

local threads = {}          -- main Lua state only

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   prefix = args[1] or "run"
   token = args[2] or "dev-webhook-token"
   per_request = tonumber(args[3] or "100")
   sent, ok, bad = 0, 0, 0
   headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. token,
   }
end

local head = [[{"version":"4","groupKey":"{}:{alertname=\"BenchBatch\",bench_id=\"%s\"}",]]
   .. [["truncatedAlerts":0,"status":"firing","receiver":"pagerd",]]
   .. [["groupLabels":{"alertname":"BenchBatch","bench_id":"%s"},]]
   .. [["commonLabels":{"alertname":"BenchBatch","bench_id":"%s","customer":"agency","severity":"critical"},]]
   .. [["commonAnnotations":{"summary":"Bench batch %s"},"externalURL":"http://alertmanager.example:9093",]]
   .. [["alerts":[]]
local alert = [[{"status":"firing","labels":{"alertname":"BenchBatch","bench_id":"%s","customer":"agency",]]
   .. [["severity":"critical","instance":"web%d:9100"},"annotations":{"summary":"Disk almost full on web%d",]]
   .. [["description":"/var is 97%% full"},"startsAt":"2026-11-25T14:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",]]
   .. [["generatorURL":"http://prometheus.example:9090/graph?g0.expr=disk","fingerprint":"%s-%d"}]]

function request()
   sent = sent + 1
   local id = prefix .. "-" .. tid .. "-" .. sent
   local parts = { string.format(head, id, id, id, id) }
   for i = 1, per_request do
      parts[#parts + 1] = string.format(alert, id, i, i, id, i)
      if i < per_request then parts[#parts + 1] = "," end
   end
   parts[#parts + 1] = "]}"
   return wrk.format("POST", nil, headers, table.concat(parts))
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
      .. '"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d,"lat_mean_us":%.1f,"threads":%d,'
      .. '"alerts_per_request":%d}\n',
      summary.duration, summary.requests, s, o, b, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
      #threads, threads[1]:get("per_request")))
end
