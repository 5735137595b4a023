-- wrk script: every request carries the next token of TOKENS_FILE (one per line), round robin, so a verified-token
-- cache smaller than the file never hits. Used by filter-bench.mjs with one wrk thread.
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/", { ["Authorization"] = tokens[i] })
end
