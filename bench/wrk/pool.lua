-- wrk script: POST each body of $BENCH_BODIES (one form body per line) exactly once, then stop.
-- Used for /token with authorization_code: every code is redeemed once (a replayed code would be an error,
-- not throughput). Run with one thread (-t1); the pool must outlast the duration or the run ends early.
-- Ends the whole wrk run now (its main thread sleeps for -d otherwise): SIGINT to ourselves, as Ctrl-C.
local ffi = require("ffi")
ffi.cdef("int getpid(void); int kill(int pid, int sig);")
local function finish_run() ffi.C.kill(ffi.C.getpid(), 2) end

local threads = {}
function setup(thread) table.insert(threads, thread) end

local bodies, i = {}, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  exhausted = 0
end

function request()
  i = i + 1
  if i > #bodies then
    if exhausted == 0 then exhausted = 1; finish_run() end
    i = #bodies
  end
  return wrk.format(nil, nil, nil, bodies[i])
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    if t:get("exhausted") == 1 then io.write("POOL_EXHAUSTED\n") end
  end
end
