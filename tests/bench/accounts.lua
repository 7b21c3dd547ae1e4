-- wrk: getAccountInfo (base64) of random keys from KEYS (one pubkey a line), requests
-- preformatted so the client costs the same per request as the no-op script.
local requests = {}
init = function(args)
  for line in io.lines(os.getenv("KEYS")) do
    local body = '{"jsonrpc":"2.0","id":1,"method":"getAccountInfo","params":["' .. line .. '",{"encoding":"base64"}]}'
    requests[#requests + 1] = wrk.format("POST", "/", {["Content-Type"] = "application/json"}, body)
  end
end
local counter = 0
request = function()
  counter = counter + 1
  return requests[(counter * 7919) % #requests + 1]
end
