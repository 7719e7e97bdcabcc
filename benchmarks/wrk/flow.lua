-- A flow of requests for wrk, and its figures as one JSON line (benchmarks/load.py writes and reads both).
--
--   wrk -t T -c C -d 5s -s benchmarks/wrk/flow.lua -H 'Authorization: Bearer …' http://127.0.0.1:PORT -- FLOW [PICKS]
--
-- FLOW is a file of steps, one a line, tab-separated: METHOD, PATH, the status expected, and an
-- optional body (JSON, sent with Content-Type: application/json). In a PATH, {id} is the "id" of
-- the first step's response in this iteration, and {pick} a random line of the file PICKS.
-- Each iteration runs the steps in order; an answer with another status counts as wrong and
-- starts a new iteration. The state of an iteration lives in the thread, so a flow whose steps
-- use {id} needs one connection per thread (-t equal to -c).
--
-- A flow of one step with a fixed path is sent as wrk's static request and its responses are
-- not parsed (wrk counts answers of 400 and above as errors itself), so wrk's own cost stays
-- as low as it can be.
--
-- done() prints one line: "WRK_RESULT " and a JSON object (latencies in microseconds).

local steps = {}
local picks = {}
local step = 1
local id = nil
local capture = false
flows = 0    -- read by done() through thread:get
wrong = 0
sample = ""

local function fields(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" and line:sub(1, 1) ~= "#" then
      local f = fields(line)
      local body = f[4]
      if body == "" then body = nil end
      local headers = {}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      if body then headers["Content-Type"] = "application/json" end
      local s = {method = f[1], path = f[2], expect = tonumber(f[3]), body = body, headers = headers}
      s.dynamic = s.path:find("{id}", 1, true) or s.path:find("{pick}", 1, true)
      if s.path:find("{id}", 1, true) then capture = true end
      table.insert(steps, s)
    end
  end
  if args[2] then
    for line in io.lines(args[2]) do
      if line ~= "" then table.insert(picks, line) end
    end
  end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  if #steps == 1 and not steps[1].dynamic then
    -- wrk's static request: formatted once, responses not parsed
    local s = steps[1]
    wrk.method, wrk.path, wrk.body, wrk.headers = s.method, s.path, s.body, s.headers
    request, response = nil, nil
  elseif #steps == 1 then
    response = nil
  end
end

function request()
  local s = steps[step]
  local path = s.path
  if s.dynamic then
    if id then path = path:gsub("{id}", id) end
    if #picks > 0 then path = path:gsub("{pick}", picks[math.random(#picks)]) end
  end
  return wrk.format(s.method, path, s.headers, s.body)
end

function response(status, headers, body)
  local s = steps[step]
  if status ~= s.expect then
    wrong = wrong + 1
    if sample == "" then
      sample = "HTTP " .. status .. " to " .. s.method .. " " .. s.path .. ": " .. (body or ""):sub(1, 200)
    end
    step, id = 1, nil
    return
  end
  if step == 1 and capture then
    id = body:match('"id"%s*:%s*"([^"]+)"')
  end
  if step == #steps then
    flows = flows + 1
    step, id = 1, nil
  else
    step = step + 1
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function escape(text)
  return (text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end))
end

function done(summary, latency, requests)
  local total_flows, total_wrong, first_sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    total_flows = total_flows + (thread:get("flows") or 0)
    total_wrong = total_wrong + (thread:get("wrong") or 0)
    local s = thread:get("sample")
    if first_sample == "" and s and s ~= "" then first_sample = s end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"flows":%d,"wrong":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"sample":"%s"}\n',
    summary.requests, summary.duration, total_flows, total_wrong,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), escape(first_sample)))
end
