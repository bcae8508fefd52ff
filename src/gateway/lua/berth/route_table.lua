-- The route table lives in the shared dict, so every worker sees the same one:
--   "version"       the current table's number (absent until berth first pushes one)
--   "table:<n>"     table n, as a JSON array of {"prefix", "targets": [{"host", "port"}]}
--   "sequence"      the last number handed out
-- A new table is stored under a new number before "version" points at it, so a reader
-- never sees half of a table. berth sends one table at a time.
local json = require "berth.json"

local find, concat, floor, ipairs, type = string.find, table.concat, math.floor, ipairs, type
local getmetatable = getmetatable

local dict = ngx.shared.berth_routes

local route_table = {}

local MAX_PREFIX = 128

local function is_ipv4(host)
  local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return false end
  for _, octet in ipairs({ a, b, c, d }) do
    if #octet > 3 or tonumber(octet) > 255 then return false end
  end
  return true
end

local function is_ipv6(host)
  return #host <= 45 and find(host, ":", 1, true) ~= nil and find(host, "^[%x:.]+$") ~= nil
end

local function is_array(value)
  return type(value) == "table" and getmetatable(value) == json.array
end

local function check_target(target, where)
  if type(target) ~= "table" or is_array(target) then return where .. " must be an object" end
  if type(target.host) ~= "string" or not (is_ipv4(target.host) or is_ipv6(target.host)) then
    return where .. ".host must be an IPv4 or IPv6 address"
  end
  local port = target.port
  if type(port) ~= "number" or port ~= floor(port) or port < 1 or port > 65535 then
    return where .. ".port must be an integer between 1 and 65535"
  end
end

local function check_route(route, where, seen)
  if type(route) ~= "table" or is_array(route) then return where .. " must be an object" end
  local prefix = route.prefix
  -- One path segment, as the nginx map extracts it from $uri.
  if type(prefix) ~= "string" or #prefix > MAX_PREFIX or not find(prefix, "^/[%w._~-]+$") then
    return where .. ".prefix must be '/' and one path segment of letters, digits and ._~-"
  end
  if seen[prefix] then return where .. ".prefix " .. prefix .. " appears twice" end
  seen[prefix] = true
  if not is_array(route.targets) then return where .. ".targets must be an array" end
  for i, target in ipairs(route.targets) do
    local problem = check_target(target, where .. ".targets[" .. (i - 1) .. "]")
    if problem then return problem end
  end
end

-- Parses and validates a PUT body: returns the routes array, or nil and a message.
function route_table.parse(body)
  local decoded, err = json.decode(body)
  if decoded == nil then return nil, "body is not JSON: " .. err end
  if type(decoded) ~= "table" or is_array(decoded) or not is_array(decoded.routes) then
    return nil, 'body must be {"routes": [...]}'
  end
  local seen = {}
  for i, route in ipairs(decoded.routes) do
    local problem = check_route(route, "routes[" .. (i - 1) .. "]", seen)
    if problem then return nil, problem end
  end
  return decoded.routes
end

-- Canonical JSON of validated routes: what is stored and what GET answers.
function route_table.encode(routes)
  local out = {}
  for i, route in ipairs(routes) do
    local targets = {}
    for j, target in ipairs(route.targets) do
      targets[j] = '{"host":' .. json.quote(target.host) .. ',"port":' .. floor(target.port) .. '}'
    end
    out[i] = '{"prefix":' .. json.quote(route.prefix) .. ',"targets":[' .. concat(targets, ",") .. ']}'
  end
  return "[" .. concat(out, ",") .. "]"
end

-- Stores encoded routes as the new current table; returns its version, or nil and a message.
function route_table.store(encoded)
  local version, err = dict:incr("sequence", 1, 0)
  if not version then return nil, "cannot number the table: " .. err end
  -- safe_set never evicts: an evicted "version" would silently empty the table.
  local ok
  ok, err = dict:safe_set("table:" .. version, encoded)
  if not ok then return nil, "cannot store the table: " .. err end
  ok, err = dict:safe_set("version", version)
  if not ok then return nil, "cannot switch to the table: " .. err end
  -- Readers that saw version - 1 may still be fetching it; anything older is unreachable.
  dict:delete("table:" .. (version - 2))
  return version
end

-- The current version (nil before the first push) and its encoded routes.
function route_table.current()
  -- A reader that lost a race with two quick pushes finds its table deleted; it looks again.
  for _ = 1, 3 do
    local version = dict:get("version")
    if version == nil then return nil, "[]" end
    local encoded = dict:get("table:" .. version)
    if encoded ~= nil then return version, encoded end
  end
  return nil, nil
end

function route_table.version()
  return dict:get("version")
end

return route_table
