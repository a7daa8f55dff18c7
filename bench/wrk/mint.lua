-- wrk script: mint authorization codes. GETs the /authorize URL given on the command line (no redirects
-- followed), reads `code` from each Location and appends it to $BENCH_CODES, stops after $BENCH_N codes.
-- Ends the whole wrk run now (its main thread sleeps for -d otherwise): SIGINT to ourselves, as Ctrl-C.
local ffi = require("ffi")
ffi.cdef("int getpid(void); int kill(int pid, int sig);")
local function finish_run() ffi.C.kill(ffi.C.getpid(), 2) end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  out = io.open(os.getenv("BENCH_CODES"), "a")
  want = tonumber(os.getenv("BENCH_N"))
  got, bad = 0, 0
end

function response(status, headers, body)
  local loc = headers["Location"] or headers["location"] or ""
  local code = loc:match("[?&]code=([^&]+)")
  if code then
    got = got + 1
    out:write(code, "\n")
    if got % 200 == 0 then out:flush() end
    if got >= want and not finished then finished = true; out:flush(); finish_run() end
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do io.write(string.format("MINT got=%d bad=%d\n", t:get("got"), t:get("bad"))) end
end
