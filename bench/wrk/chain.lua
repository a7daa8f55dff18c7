-- wrk script: /token with refresh_token under rotation. $BENCH_BODIES: line 1 is a form body with {RT}
-- where the refresh token goes; every further line is a seed refresh token (one live family each).
-- Each response's new refresh_token goes back in the queue, so every request presents the current token
-- of its family, exactly once (a rotated-out token would be reuse, i.e. an error, not throughput).
-- Ends the whole wrk run now (its main thread sleeps for -d otherwise): SIGINT to ourselves, as Ctrl-C.
local ffi = require("ffi")
ffi.cdef("int getpid(void); int kill(int pid, int sig);")
local function finish_run() ffi.C.kill(ffi.C.getpid(), 2) end

local threads = {}
function setup(thread) table.insert(threads, thread) end

local template, queue, head, tail = nil, {}, 1, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_BODIES")) do
    if template == nil then template = line elseif #line > 0 then tail = tail + 1; queue[tail] = line end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  lost, starved = 0, 0
end

function request()
  local rt = queue[head]
  if rt == nil then
    if starved == 0 then finish_run() end
    starved = starved + 1
    rt = "starved"
  else
    queue[head] = nil
    head = head + 1
  end
  return wrk.format(nil, nil, nil, (template:gsub("{RT}", rt)))
end

function response(status, headers, body)
  local rt = body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if status == 200 and rt then tail = tail + 1; queue[tail] = rt else lost = lost + 1 end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("CHAIN lost=%d starved=%d\n", t:get("lost"), t:get("starved")))
  end
end
