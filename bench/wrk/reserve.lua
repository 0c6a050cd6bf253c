-- wrk script: flash-sale checkout holds against orderd (POST /v1/reservations, one hot SKU).
--
--   wrk -t2 -c64 -d15s --latency -s bench/wrk/reserve.lua http://127.0.0.1:PORT -- KEY SKU
--
-- KEY is a `channel` (or admin) API key; SKU the hot SKU (default HOT). Every request asks for one
-- unit with the default 15-minute hold. Successful holds (201) and refusals (409 out_of_stock) are
-- counted apart — refusals are cheap and would flatter the rate — and anything else is a failure.
-- done() prints one machine-readable line, read by bench/run_inventory_peers.sh:
--   ocbench: requests=N held_201=N out_of_stock_409=N other=N socket_errors=N ... p50_ms=X p99_ms=X

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local req = nil
held = 0
refused = 0
other = 0
first_error = ""

function init(args)
  local key = args[1] or os.getenv("OC_API_KEY")
  if key == nil or key == "" then
    error("reserve.lua: give the API key as 'wrk ... URL -- KEY [SKU]'")
  end
  local sku = args[2] or "HOT"
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }
  req = wrk.format("POST", "/v1/reservations", headers,
                   '{"lines": [{"sku": "' .. sku .. '", "qty": 1}]}')
end

function request()
  return req
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
  local h, r, o = 0, 0, 0
  local sample = ""
  for _, t in ipairs(threads) do
    h = h + t:get("held")
    r = r + t:get("refused")
    o = o + t:get("other")
    if sample == "" then sample = t:get("first_error") end
  end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "ocbench: requests=%d held_201=%d out_of_stock_409=%d other=%d socket_errors=%d "
      .. "duration_s=%.3f held_per_s=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, h, r, o, e.connect + e.read + e.write + e.timeout, seconds, h / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  if o > 0 then io.write("ocbench: first failure: " .. sample .. "\n") end
end
