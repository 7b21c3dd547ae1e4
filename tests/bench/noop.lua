-- wrk: the no-op getHealth, preformatted like accounts.lua.
local requests = {}
init = function(args)
  local body = '{"jsonrpc":"2.0","id":1,"method":"getHealth"}'
  requests[1] = wrk.format("POST", "/", {["Content-Type"] = "application/json"}, body)
end
request = function()
  return requests[1]
end
