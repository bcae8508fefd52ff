-- The only Lua that runs per proxied request (an access_by_lua phase measured ~25% slower):
-- a table lookup by the first segment of $uri, and set_current_peer. Requests
-- for an unknown prefix, or for a route without targets, go to the internal servers that
-- answer 404 and 503.
local ngx_balancer = require "ngx.balancer"
local json = require "berth.json"
local route_table = require "berth.route_table"

local ngx = ngx
local var = ngx.var
local log, ERR = ngx.log, ngx.ERR
local now = ngx.now
local min, random = math.min, math.random
local find, sub = string.find, string.sub
local set_current_peer = ngx_balancer.set_current_peer
local set_more_tries = ngx_balancer.set_more_tries
local get_last_failure = ngx_balancer.get_last_failure

local balancer = {}

-- A connect error to a target that just died is retried on another one, at most this often.
local MAX_TRIES = 3

local not_found_peer, unavailable_peer

-- This worker's decoded copy of the shared table, and the version it was decoded from.
local cached_version = nil
local routes = {}
-- The worker's (cached, millisecond) clock when it last read the version.
local checked_at = -1

-- Called from init_by_lua with the internal servers' addresses ("unix:/…").
function balancer.configure(options)
  not_found_peer = options.not_found_peer
  unavailable_peer = options.unavailable_peer
end

-- Seeds each worker differently, so that workers do not all send their first request of a
-- route to the same replica.
function balancer.init_worker()
  math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
end

local function peer_host(host)
  -- ngx_parse_url wants IPv6 literals in brackets.
  if host:find(":", 1, true) then return "[" .. host .. "]" end
  return host
end

local function refresh()
  local version, encoded = route_table.current()
  if encoded == nil then return end
  local decoded, err = json.decode(encoded)
  cached_version = version
  if decoded == nil then
    log(ERR, "berth: stored route table ", version, " is unreadable, keeping the previous one: ", err)
    return
  end
  local fresh = {}
  for _, route in ipairs(decoded) do
    local peers = {}
    for i, target in ipairs(route.targets) do
      peers[i] = { host = peer_host(target.host), port = target.port }
    end
    fresh[route.prefix] = { peers = peers, count = #peers, last = random(#peers + 1) - 1 }
  end
  routes = fresh
end

local function use(peer)
  local ok, err = set_current_peer(peer)
  if not ok then
    log(ERR, "berth: cannot use ", peer, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

function balancer.balance()
  -- The shared-dict read (a lock) cost ~10% of throughput per request, so it is done once per
  -- tick of the worker's clock. The admin PUT answers only after the next tick, so a request
  -- sent after a push is balanced with the new table.
  local tick = now()
  if tick ~= checked_at then
    checked_at = tick
    if route_table.version() ~= cached_version then refresh() end
  end
  -- The route key is the first segment of the normalised path: /exp-2-web/x -> /exp-2-web.
  local uri = var.uri
  local slash = find(uri, "/", 2, true)
  local route = routes[slash and sub(uri, 1, slash - 1) or uri]
  if route == nil then return use(not_found_peer) end
  local count = route.count
  if count == 0 then return use(unavailable_peer) end
  local index
  if count == 1 then
    index = 1
  elseif get_last_failure() == nil then
    -- The request's first try: allow retries on other targets.
    set_more_tries(min(count, MAX_TRIES) - 1)
    index = route.last % count + 1
    route.last = index
    ngx.ctx.berth_tried = index
  else
    -- A retry takes the target after the one that failed. The worker's round-robin counter
    -- has moved on with concurrent requests and could hand the failed target out again.
    local ctx = ngx.ctx
    index = (ctx.berth_tried or route.last) % count + 1
    ctx.berth_tried = index
  end
  local peer = route.peers[index]
  local ok, err = set_current_peer(peer.host, peer.port)
  if not ok then
    log(ERR, "berth: cannot use target ", peer.host, ":", peer.port, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

return balancer
