-- wrk script: durable order creation against orderd (POST /v1/orders, API.md's example order).
--
--   wrk -t2 -c64 -d20s --latency -s bench/wrk/create_order.lua http://127.0.0.1:PORT -- KEY [RUN_ID]
--
-- KEY is a `channel` API key for channel "douyin" (or set OC_API_KEY); RUN_ID (or OC_BENCH_RUN_ID,
-- default: the current time) keeps channel_order_ids unique across runs on the same data dir.
-- Every request carries a new channel_order_id "BENCH-<run>-<thread>-<n>", so each one creates
-- an order (201) rather than repeating one (200). wrk keeps its connections alive (HTTP/1.1).
--
-- done() prints one machine-readable line, read by bench/run_order_create.sh:
--   ocbench: requests=N created_201=N repeat_200=N non2xx=N ... p50_ms=X p99_ms=X
-- followed by a count per non-2xx status and the first such body: failures are reported, never
-- folded into the throughput. Latencies are wrk's, over all completed requests.

local threads = {}

-- OC_PACE_MS=N: each connection waits N ms before each request, so C connections offer about
-- C * 1000 / N requests a second (an open-ish load for latency benchmarks; wrk has no rate flag).
local pace_ms = tonumber(os.getenv("OC_PACE_MS") or "")
if pace_ms then
  function delay()
    return pace_ms
  end
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

-- Per-thread state (each wrk thread has its own Lua state).
local counter = 0
local run_id = nil
local headers = nil
created = 0
repeated = 0
non2xx = 0
statuses = {}
first_error = ""

local body_prefix = '{"channel": "douyin", "channel_order_id": "'
local body_suffix = '", "currency": "CNY", '
  .. '"customer": {"nickname": "小李", "name": "李四", "phone": "13812345678", "id_number": null}, '
  .. '"shipping_address": {"province": "浙江省", "city": "杭州市", "district": "西湖区", '
  .. '"detail": "文三路 1 号"}, '
  .. '"lines": [{"sku": "AIR-PURIFIER-X1", "name": "空气净化器", "qty": 1, "unit_price": 129900}], '
  .. '"payment_method": "wechat_pay", "reservation_id": null, "placed_at": "2026-11-11T00:00:01Z"}'

function init(args)
  local key = args[1] or os.getenv("OC_API_KEY")
  if key == nil or key == "" then
    error("create_order.lua: give the API key as 'wrk ... URL -- KEY' or in OC_API_KEY")
  end
  run_id = args[2] or os.getenv("OC_BENCH_RUN_ID") or tostring(os.time())
  headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }
end

function request()
  counter = counter + 1
  local coid = "BENCH-" .. run_id .. "-" .. thread_id .. "-" .. counter
  return wrk.format("POST", "/v1/orders", headers, body_prefix .. coid .. body_suffix)
end

function response(status, hdrs, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    repeated = repeated + 1
  else
    non2xx = non2xx + 1
    statuses[status] = (statuses[status] or 0) + 1
    if first_error == "" then
      first_error = string.sub(body or "", 1, 400)
    end
  end
end

function done(summary, latency, requests)
  local c, r, n = 0, 0, 0
  local by_status = {}
  local sample = ""
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    r = r + t:get("repeated")
    n = n + t:get("non2xx")
    for s, k in pairs(t:get("statuses")) do
      by_status[s] = (by_status[s] or 0) + k
    end
    if sample == "" then sample = t:get("first_error") end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "ocbench: requests=%d created_201=%d repeat_200=%d non2xx=%d "
      .. "socket_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d "
      .. "duration_s=%.3f created_per_s=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, c, r, n,
    e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout,
    seconds, c / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  for s, k in pairs(by_status) do
    io.write(string.format("ocbench: non2xx status %d: %d responses\n", s, k))
  end
  if n > 0 then
    io.write("ocbench: first non-2xx body: " .. sample .. "\n")
  end
end
