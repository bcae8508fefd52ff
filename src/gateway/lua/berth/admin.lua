-- The admin endpoint (127.0.0.1 only): GET /routes answers the current table, PUT /routes
-- replaces it whole.
local json = require "berth.json"
local route_table = require "berth.route_table"

local ngx = ngx

local admin = {}

local function respond(status, body)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.say(body)
  return ngx.exit(status)
end

local function error_body(message)
  return '{"error":' .. json.quote(message) .. '}'
end

local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  -- Bodies larger than client_body_buffer_size are spooled to a file.
  local path = ngx.req.get_body_file()
  if not path then return nil end
  local file, err = io.open(path, "rb")
  if not file then return nil, err end
  body = file:read("*a")
  file:close()
  return body
end

local function get()
  local version, encoded = route_table.current()
  if encoded == nil then return respond(503, error_body("the table is being replaced; retry")) end
  return respond(200, '{"version":' .. (version or 0) .. ',"routes":' .. encoded .. '}')
end

local function put()
  local body, err = read_body()
  if not body then return respond(400, error_body("a JSON body is required" .. (err and (": " .. err) or ""))) end
  local routes, problem = route_table.parse(body)
  if not routes then return respond(400, error_body(problem)) end
  local version
  version, err = route_table.store(route_table.encode(routes))
  if not version then
    ngx.log(ngx.ERR, "berth: ", err)
    return respond(500, error_body(err))
  end
  -- Workers look at the version once per millisecond tick (see balancer.lua): wait past it.
  ngx.sleep(0.002)
  return respond(200, '{"version":' .. version .. '}')
end

function admin.routes()
  local method = ngx.req.get_method()
  if method == "GET" then return get() end
  if method == "PUT" then return put() end
  ngx.header["Allow"] = "GET, PUT"
  return respond(405, error_body("use GET or PUT"))
end

return admin
