-- wrk script for payment webhook deliveries (bench/webhooks.py): pre-signed requests, each sent once.
-- Usage: wrk ... -s bench/webhooks.lua http://host:port -- <file of deliveries> <wrk threads>
-- Each line of the file is one delivery: path, webhook-id, webhook-timestamp, webhook-signature and
-- body, tab-separated (the body is compact JSON: no tab, no newline). Thread n of N sends lines n,
-- n+N, ...; a thread that has sent all of its lines starts again, and says so (BENCH_REPLAYED): the
-- figures are then not valid, as redeliveries take a cheaper path.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "latency.lua")

local threads = {}
local base_setup, base_done = setup, done
local requests = {}
local next_index = 1
replayed = 0 -- globals, read from each thread by done()

function setup(thread)
  base_setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  local count, line_number = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if line_number % count == thread_number - 1 then
      local path, id, timestamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = timestamp,
        ["webhook-signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index + 1
  if next_index > #requests then
    next_index, replayed = 1, replayed + 1
  end
  return r
end

function done(summary, latency, requests_)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("replayed")
  end
  io.write(string.format("BENCH_REPLAYED %d\n", total))
  base_done(summary, latency, requests_)
end
