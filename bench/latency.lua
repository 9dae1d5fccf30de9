-- wrk script: sends the API key, rotates through request paths, and prints the figures as JSON.
-- Usage: wrk ... -s bench/latency.lua http://host:port -- <api key> <file of paths, one a line>
-- Requests are formatted once in init(), so wrk spends no time building them during the run.

local requests = {}
local next_index = 1
local threads = 0

-- Runs in the main thread once per wrk thread: number them, so they start at different paths.
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  local headers = {["Authorization"] = "Bearer " .. args[1], ["Accept"] = "application/json"}
  for path in io.lines(args[2]) do
    requests[#requests + 1] = wrk.format("GET", path, headers)
  end
  next_index = ((thread_number - 1) * 101) % #requests + 1
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end

-- Runs once, after all threads, with the merged figures. Latencies are in microseconds.
function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
