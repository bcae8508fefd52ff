-- Just enough JSON for the admin endpoint. Debian's libnginx-mod-http-lua ships without
-- lua-cjson, and berth adds no package CI would have to install for it. Speed does not
-- matter here: tables are decoded once per PUT and once per worker per table version.
local byte, char, concat, find, floor, sub = string.byte, string.char, table.concat, string.find, math.floor, string.sub
local format, gsub, tonumber, setmetatable = string.format, string.gsub, tonumber, setmetatable

local json = {}

-- Decoded arrays carry this metatable, so a validator can tell [] from {}.
json.array = {}
-- A unique value for null, so that an array keeps its length.
json.null = setmetatable({}, { __tostring = function() return "null" end })

local MAX_DEPTH = 32
local UNESCAPES = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

local function fail(at, message)
  error({ json_error = message .. " at byte " .. at }, 0)
end

local function skip_space(text, at)
  local _, last = find(text, "^[ \t\r\n]*", at)
  return last + 1
end

local function utf8(code)
  if code < 0x80 then
    return char(code)
  elseif code < 0x800 then
    return char(0xC0 + floor(code / 0x40), 0x80 + code % 0x40)
  elseif code < 0x10000 then
    return char(0xE0 + floor(code / 0x1000), 0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
  end
  return char(0xF0 + floor(code / 0x40000), 0x80 + floor(code / 0x1000) % 0x40,
    0x80 + floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local function decode_string(text, at)
  local parts, count, pos = {}, 0, at + 1
  while true do
    local special = find(text, '["\\%c]', pos)
    if not special then fail(at, "unterminated string") end
    if special > pos then
      count = count + 1
      parts[count] = sub(text, pos, special - 1)
    end
    local c = sub(text, special, special)
    if c == '"' then return concat(parts), special + 1 end
    if c ~= '\\' then fail(special, "control character in string") end
    local escape = sub(text, special + 1, special + 1)
    if escape == "u" then
      local hex = sub(text, special + 2, special + 5)
      if not find(hex, "^%x%x%x%x$") then fail(special, "bad \\u escape") end
      local code = tonumber(hex, 16)
      pos = special + 6
      if code >= 0xD800 and code <= 0xDBFF then
        if not find(text, "^\\u[dD][c-fC-F]%x%x", pos) then fail(special, "unpaired surrogate") end
        code = 0x10000 + (code - 0xD800) * 0x400 + (tonumber(sub(text, pos + 2, pos + 5), 16) - 0xDC00)
        pos = pos + 6
      end
      count = count + 1
      parts[count] = utf8(code)
    else
      local plain = UNESCAPES[escape]
      if not plain then fail(special, "bad escape") end
      count = count + 1
      parts[count] = plain
      pos = special + 2
    end
  end
end

local decode_value

local function decode_array(text, at, depth)
  local result, count = setmetatable({}, json.array), 0
  local pos = skip_space(text, at + 1)
  if sub(text, pos, pos) == "]" then return result, pos + 1 end
  while true do
    local value
    value, pos = decode_value(text, pos, depth)
    count = count + 1
    result[count] = value
    pos = skip_space(text, pos)
    local c = sub(text, pos, pos)
    if c == "]" then return result, pos + 1 end
    if c ~= "," then fail(pos, "expected ',' or ']'") end
    pos = skip_space(text, pos + 1)
  end
end

local function decode_object(text, at, depth)
  local result = {}
  local pos = skip_space(text, at + 1)
  if sub(text, pos, pos) == "}" then return result, pos + 1 end
  while true do
    if sub(text, pos, pos) ~= '"' then fail(pos, "expected a string key") end
    local key
    key, pos = decode_string(text, pos)
    pos = skip_space(text, pos)
    if sub(text, pos, pos) ~= ":" then fail(pos, "expected ':'") end
    result[key], pos = decode_value(text, skip_space(text, pos + 1), depth)
    pos = skip_space(text, pos)
    local c = sub(text, pos, pos)
    if c == "}" then return result, pos + 1 end
    if c ~= "," then fail(pos, "expected ',' or '}'") end
    pos = skip_space(text, pos + 1)
  end
end

local LITERALS = { ["true"] = true, ["false"] = false }

decode_value = function(text, at, depth)
  if depth > MAX_DEPTH then fail(at, "nested too deeply") end
  local c = byte(text, at)
  if c == 34 then return decode_string(text, at) end -- "
  if c == 91 then return decode_array(text, at, depth + 1) end -- [
  if c == 123 then return decode_object(text, at, depth + 1) end -- {
  local _, last = find(text, "^-?%d+%.?%d*[eE]?[-+]?%d*", at)
  if last then
    local number = tonumber(sub(text, at, last))
    if number == nil then fail(at, "bad number") end
    return number, last + 1
  end
  local word = sub(text, at, at + 4)
  for literal, value in pairs(LITERALS) do
    if sub(word, 1, #literal) == literal then return value, at + #literal end
  end
  if sub(word, 1, 4) == "null" then return json.null, at + 4 end
  fail(at, "unexpected character")
end

-- Returns the value, or nil and a message.
function json.decode(text)
  local ok, value, pos = pcall(decode_value, text, skip_space(text, 1), 0)
  if not ok then
    if type(value) == "table" and value.json_error then return nil, value.json_error end
    error(value, 0)
  end
  pos = skip_space(text, pos)
  if pos <= #text then return nil, "trailing characters at byte " .. pos end
  return value
end

local ESCAPES = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

-- A JSON string literal for s.
function json.quote(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    return ESCAPES[c] or format("\\u%04x", byte(c))
  end) .. '"'
end

return json
