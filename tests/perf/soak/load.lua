-- wrk script of the soak (tests/perf/soak/soak.mjs writes its input files and reads its result file).
--
-- Run as `wrk -t N -c N -s load.lua URL -- TOKENS ROTATION QUOTA N MODE`: one connection per thread, so each
-- thread's request() and response() alternate strictly and every answer is matched with the request it
-- answers (wrk's Lua callbacks say nothing about which connection an answer came on).
--
-- TOKENS: one request per line, `class<TAB>method<TAB>path<TAB>token` (empty token: no Authorization
-- header; class `rot`: the token of the rotating key in force, from ROTATION). MODE `cycle`: every thread
-- cycles through all lines; `slice`: thread i sends lines i, i+N, i+2N, … once each (distinct tokens). With
-- QUOTA > 0 a thread stops after QUOTA answers (wrk itself runs until its duration or SIGINT).
-- ROTATION: `epoch_second<TAB>k<TAB>token`: from that second on, `rot` requests carry token k.
-- Result file ($SOAK_RESULTS), written by done(): `C class status count`, `R k second status count`,
-- `E connect read write timeout`.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local function split(line)
  local out = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    out[#out + 1] = field
  end
  return out
end

local entries, rotation = {}, {}
local quota, sent, answered, cursor, limit = 0, 0, 0, 0, 0
local pending
counts = {}
rot = {}

function init(args)
  local tokens_file, rotation_file = args[1], args[2]
  quota = tonumber(args[3] or "0")
  local nthreads = tonumber(args[4] or "1")
  local slice = args[5] == "slice"
  local n = 0
  for line in io.lines(tokens_file) do
    if not slice or n % nthreads == id then
      local f = split(line)
      entries[#entries + 1] = { class = f[1], method = f[2], path = f[3], token = f[4] }
    end
    n = n + 1
  end
  for line in io.lines(rotation_file) do
    local f = split(line)
    rotation[#rotation + 1] = { at = tonumber(f[1]), k = f[2], token = f[3] }
  end
  limit = quota
  if slice and (limit == 0 or limit > #entries) then limit = #entries end
  -- Threads start at different places in the mix.
  cursor = slice and 0 or (id * 7919) % #entries
end

local function rotating(now)
  local current = rotation[1]
  for _, r in ipairs(rotation) do
    if r.at <= now then current = r end
  end
  return current
end

function request()
  if limit > 0 and sent >= limit then
    wrk.thread:stop()
  end
  cursor = cursor % #entries + 1
  local e = entries[cursor]
  local token = e.token
  local now = os.time()
  local k = nil
  if e.class == "rot" then
    local r = rotating(now)
    token, k = r.token, r.k
  end
  pending = { class = e.class, k = k, second = now }
  sent = sent + 1
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format(e.method, e.path, headers)
end

function response(status, headers, body)
  local p = pending
  if p == nil then return end
  pending = nil
  local key = p.class .. " " .. status
  counts[key] = (counts[key] or 0) + 1
  if p.k then
    local rk = p.k .. " " .. p.second .. " " .. status
    rot[rk] = (rot[rk] or 0) + 1
  end
  answered = answered + 1
  if limit > 0 and answered >= limit then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("SOAK_RESULTS"), "w"))
  for _, t in ipairs(threads) do
    for key, n in pairs(t:get("counts")) do out:write("C ", key, " ", n, "\n") end
    for key, n in pairs(t:get("rot")) do out:write("R ", key, " ", n, "\n") end
  end
  local e = summary.errors
  out:write("E ", e.connect, " ", e.read, " ", e.write, " ", e.timeout, "\n")
  out:close()
end
