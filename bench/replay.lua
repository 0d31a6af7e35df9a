-- Replays request lines from $WRK_DATA (method \t path \t token \t body), each wrk thread
-- taking every n-th line so no two threads send the same request; wraps around at the end.
-- Without $WRK_DATA every request is a plain GET of the URL path. $WRK_COOKIE (a browser
-- session, "name=value") is sent as a Cookie header, $WRK_ACCEPT as the Accept header; an empty token sends no Authorization.
-- done() prints one JSON line.
local counter, threads = 0, {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local reqs, idx = {}, 0

function init(args)
  local data = os.getenv("WRK_DATA")
  if not data then return end
  local cookie = os.getenv("WRK_COOKIE")
  local accept = os.getenv("WRK_ACCEPT")
  local n, nthreads = 0, tonumber(os.getenv("WRK_THREADS") or "2")
  local total = 0
  for _ in io.lines(data) do total = total + 1 end
  if total < nthreads then nthreads = 1 end
  for line in io.lines(data) do
    if n % nthreads == tid % nthreads then
      local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      if token ~= "" then headers["Authorization"] = "Bearer " .. token end
      if cookie then headers["Cookie"] = cookie end
      if accept then headers["Accept"] = accept end
      if body == "" then body = nil else headers["Content-Type"] = "application/json" end
      table.insert(reqs, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
end

function request()
  if #reqs == 0 then return wrk.format(nil) end
  idx = idx + 1
  if idx > #reqs then idx = 1 end
  return reqs[idx]
end

function done(summary, latency, requests)
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout))
end
