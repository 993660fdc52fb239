-- Shared by the benchmark's wrk scripts: counts response statuses in every thread and prints
-- them when the run ends ("STATUS <code> <count>"), so the harness can tell 4xx from 5xx.
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  local sent = 0
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      total[code] = (total[code] or 0) + count
    end
    sent = sent + (thread:get("sent") or 0)
  end
  -- Requests written, answered or not (the register script counts them).
  io.write(string.format("SENT %d\n", sent))
  for code, count in pairs(total) do
    io.write(string.format("STATUS %d %d\n", code, count))
  end
end
