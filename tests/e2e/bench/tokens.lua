-- wrk script for the benchmark's token mixes (one wrk thread), used by filter-bench.mjs:
--   TOKENS_MODE=rotate  every request carries the next token of TOKENS_FILE (one per line), round robin: with more
--                       tokens than a verified-token cache holds, a FIFO or LRU cache never hits. TOKENS_START (a
--                       count of tokens already sent, e.g. by a warm-up run) continues the rotation where it stopped
--   TOKENS_MODE=once    the tokens of TOKENS_FILE are streamed from the file, each used once; if the run outlasts the
--                       file it starts over, and done() reports how many requests went out, so the caller can tell
--                       (and print) how many tokens were reused
local path = os.getenv("TOKENS_FILE")
local mode = os.getenv("TOKENS_MODE") or "rotate"
if not path then error("TOKENS_FILE is not set") end
if mode ~= "rotate" and mode ~= "once" then error("TOKENS_MODE must be rotate or once, not " .. mode) end

-- Globals: read back from the thread by done() (thread:get).
issued = 0
restarts = 0

local tokens, file
if mode == "rotate" then
  tokens = {}
  for line in io.lines(path) do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  if #tokens == 0 then error(path .. " has no tokens") end
else
  file = assert(io.open(path, "r"))
end

local i = 0
if tokens then i = (tonumber(os.getenv("TOKENS_START") or "0") or 0) % #tokens end
local function next_token()
  if tokens then
    i = i % #tokens + 1
    return tokens[i]
  end
  local line = file:read("*l")
  if not line or #line == 0 then
    file:seek("set", 0)
    restarts = restarts + 1
    line = file:read("*l")
  end
  return "Bearer " .. line
end

request = function()
  issued = issued + 1
  return wrk.format("GET", "/", { ["Authorization"] = next_token() })
end

local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local total, wraps = 0, 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("issued") or 0)
    wraps = wraps + (thread:get("restarts") or 0)
  end
  io.write(string.format("bench-tokens: mode=%s issued=%d restarts=%d\n", mode, total, wraps))
end
