-- wrk script: flash-sale checkout holds against orderd (POST /v1/reservations, one hot SKU).
--
--   wrk -t2 -c64 -d15s --latency -s bench/wrk/reserve.lua http://127.0.0.1:PORT -- KEY SKU [MODE]
--
-- KEY is a `channel` (or admin) API key; SKU the hot SKU (default HOT). Every request asks for one
-- unit with the default 15-minute hold. done() prints one machine-readable line, read by
-- bench/run_inventory_peers.sh. MODE says how answers are counted:
--
--   lean (default): as redis-benchmark does, in the client's C code and nowhere else. The request
--     is formatted once, and no Lua runs per request or per answer. A Lua callback per answer
--     (wrk copies every header and the body into a Lua table for it) is client CPU, and on a
--     shared machine the client's CPU is taken from the server: 68.4k holds/s with callbacks,
--     79.6k without (BENCHMARKS.md, session 7). wrk itself counts answers of status >= 400, so
--     this mode tells answers below 400 from the rest:
--       ocbench: mode=lean requests=N held_2xx=N not_2xx=N socket_errors=N ... p50_ms=X p99_ms=X
--     held_2xx counts every answer below 400; orderd answers this request with 201 or with an
--     error. The benchmark script also checks the holds on disk against held_2xx (at least that
--     many, give or take the requests in flight when each run stopped).
--   count: each answer is looked at in Lua, and successful holds (201) and refusals (409
--     out_of_stock) are counted apart — refusals are cheap and would flatter the rate — and
--     anything else is a failure. For sell-out runs, where the split is the point:
--       ocbench: mode=count requests=N held_201=N out_of_stock_409=N other=N socket_errors=N ...

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

mode = "lean"  -- global, so done() can read it from a thread
held = 0
refused = 0
other = 0
first_error = ""

function init(args)
  local key = args[1] or os.getenv("OC_API_KEY")
  if key == nil or key == "" then
    error("reserve.lua: give the API key as 'wrk ... URL -- KEY [SKU] [lean|count]'")
  end
  local sku = args[2] or "HOT"
  mode = args[3] or "lean"
  if mode ~= "lean" and mode ~= "count" then
    error("reserve.lua: MODE is 'lean' or 'count', not '" .. mode .. "'")
  end
  wrk.method = "POST"
  wrk.path = "/v1/reservations"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"lines": [{"sku": "' .. sku .. '", "qty": 1}]}'
  -- wrk decides whether to call response() once, after init: in lean mode there is none.
  if mode == "lean" then response = nil end
end

function response(status, hdrs, body)
  if status == 201 then
    held = held + 1
  elseif status == 409 then
    refused = refused + 1
  else
    other = other + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local tail = string.format("socket_errors=%d duration_s=%.3f", socket_errors, seconds)
  local timing = string.format("p50_ms=%.3f p99_ms=%.3f", latency:percentile(50) / 1000,
                               latency:percentile(99) / 1000)
  if threads[1]:get("mode") == "lean" then
    local held_2xx = summary.requests - e.status
    io.write(string.format("ocbench: mode=lean requests=%d held_2xx=%d not_2xx=%d %s held_per_s=%.1f %s\n",
                           summary.requests, held_2xx, e.status, tail, held_2xx / seconds, timing))
    return
  end
  local h, r, o = 0, 0, 0
  local sample = ""
  for _, t in ipairs(threads) do
    h = h + t:get("held")
    r = r + t:get("refused")
    o = o + t:get("other")
    if sample == "" then sample = t:get("first_error") end
  end
  io.write(string.format(
    "ocbench: mode=count requests=%d held_201=%d out_of_stock_409=%d other=%d %s held_per_s=%.1f %s\n",
    summary.requests, h, r, o, tail, h / seconds, timing))
  if o > 0 then io.write("ocbench: first failure: " .. sample .. "\n") end
end
