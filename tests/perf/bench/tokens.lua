-- wrk script for the benchmark's token mixes (one wrk thread), used by filter-bench.mjs:
--   TOKENS_MODE=rotate  every request carries the next token of TOKENS_FILE (one per line), round robin: with more
--                       tokens than a verified-token cache holds, a FIFO or LRU cache never hits. TOKENS_START (a
--                       count of tokens already sent, e.g. by a warm-up run) continues the rotation where it stopped
--   TOKENS_MODE=once    the lines of TOKENS_FILE are streamed from the file, each used once, from line
--                       TOKENS_START + 1 on (the lines before were sent by a warm-up run); if the run outlasts the
--                       file it starts over at the first line, and done() reports how many requests went out, so
--                       the caller can tell (and print) how many lines were reused
--                       (wrk calls request() once before it connects, to check the request it makes: that line is
--                       counted in `issued` and never sent, so a run after a warm-up that starts at the warm-up's
--                       `issued` never sends a line the warm-up sent)
--   DPOP_TOKEN_FILE     (once mode only) the file's lines are DPoP proofs: every request carries
--                       "Authorization: DPoP <the token in DPOP_TOKEN_FILE>" and "DPoP: <the next line>";
--                       without it every line is a token sent as "Authorization: Bearer <line>"
local path = os.getenv("TOKENS_FILE")
local mode = os.getenv("TOKENS_MODE") or "rotate"
local start = tonumber(os.getenv("TOKENS_START") or "0") or 0
local dpop_token_file = os.getenv("DPOP_TOKEN_FILE")
if not path then error("TOKENS_FILE is not set") end
if mode ~= "rotate" and mode ~= "once" then error("TOKENS_MODE must be rotate or once, not " .. mode) end
if dpop_token_file and mode ~= "once" then error("DPOP_TOKEN_FILE needs TOKENS_MODE=once") end

-- Globals: read back from the thread by done() (thread:get).
issued = 0
restarts = 0

local dpop_authorization
if dpop_token_file then
  local f = assert(io.open(dpop_token_file, "r"))
  local token = f:read("*l")
  f:close()
  if not token or #token == 0 then error(dpop_token_file .. " has no token") end
  dpop_authorization = "DPoP " .. token
end

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

local function next_line()
  local line = file:read("*l")
  if not line or #line == 0 then
    file:seek("set", 0)
    restarts = restarts + 1
    line = file:read("*l")
    if not line or #line == 0 then error(path .. " is empty") end
  end
  return line
end

local i = 0
if tokens then
  i = start % #tokens
else
  for _ = 1, start do next_line() end
end

request = function()
  issued = issued + 1
  if tokens then
    i = i % #tokens + 1
    return wrk.format("GET", "/", { ["Authorization"] = tokens[i] })
  end
  local line = next_line()
  if dpop_authorization then
    return wrk.format("GET", "/", { ["Authorization"] = dpop_authorization, ["DPoP"] = line })
  end
  return wrk.format("GET", "/", { ["Authorization"] = "Bearer " .. line })
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
