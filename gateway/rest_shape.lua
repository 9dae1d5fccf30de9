-- Shapes service responses for the REST surface. The services send two pieces of metadata
-- (see libs/portal_common/src/portal_common/errors.py):
--   x-portal-http-status  the HTTP status to answer with (201 for creations, 409 for conflicts...)
--   x-portal-error        the REST error body, {"error": "...", "code": "...", ...}, as ASCII JSON
-- A gRPC error that no service shaped (gRPC's own, such as a message over its size limit) comes
-- as the transcoder's {"code": N, "message": "..."}; it is reshaped into {"error": ...} too.
-- The transcoder's own 400s (a bad query parameter, a body that is not JSON) come through
-- local_reply_config as {"code":"INVALID_ARGUMENT","error":"invalid request: ..."}; they are
-- reworded to name what the client wrote. Whole numbers that the transcoder prints in exponent
-- form (1e+15) are printed as plain digits. It also drops the gRPC status headers that the
-- transcoder copies onto REST responses. On requests, it drops the headers that gRPC metadata
-- cannot carry and a trailing slash of the path.

-- The largest whole number a double (and so a JSON number in every client) holds exactly.
local MAX_EXACT = 2 ^ 53

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c)
    return (c == '"' or c == "\\") and "\\" .. c or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- The text of a JSON string's contents (only ASCII escapes matter for the messages read here).
local function json_unescaped(text)
  return (text:gsub("\\(.)(%x?%x?%x?%x?)", function(c, hex)
    if c == "u" and #hex == 4 then
      local code = tonumber(hex, 16)
      return code < 128 and string.char(code) or "?"
    end
    return (c == "n" and "\n" or c) .. hex
  end))
end

local function error_body(message, field)
  local body = '{"error":' .. json_string(message) .. ',"code":"INVALID_ARGUMENT"'
  return body .. (field and ',"field":' .. json_string(field) or "") .. "}"
end

-- Where the JSON string that opens at `open` ends (its closing quote). Plain finds only: a body
-- may hold megabytes of text.
local function string_end(text, open)
  local close = text:find('"', open + 1, true)
  while close do
    local backslashes = 0
    while text:byte(close - 1 - backslashes) == 92 do
      backslashes = backslashes + 1
    end
    if backslashes % 2 == 0 then
      return close
    end
    close = text:find('"', close + 1, true)
  end
  return #text
end

local function is_digit(byte)
  return byte ~= nil and byte >= 48 and byte <= 57
end

-- The number around the "e+" at `e` (-1.5e+15), as its first and last positions, or nil.
local function number_around(text, e)
  local first, last = e, e + 1
  while first > 1 and (is_digit(text:byte(first - 1)) or text:byte(first - 1) == 46 or text:byte(first - 1) == 45) do
    first = first - 1
  end
  while is_digit(text:byte(last + 1)) do
    last = last + 1
  end
  if first < e and last > e + 1 then
    return first, last
  end
end

-- The JSON text with every whole number up to 2^53 in exponent form outside strings printed as
-- integer digits, or nil when there is none, so that clients decoding into integers (Go,
-- Python) read money and counts. The transcoder prints whole doubles from 1e15 on with an
-- exponent (its printer keeps 15 significant digits).
local function plain_whole_numbers(text)
  local parts, copied = {}, 1
  local outside = 1 -- a position known to be outside every string
  local quote = text:find('"', 1, true)
  local e = text:find("e+", 1, true)
  while e do
    while quote and quote < e do -- skip the strings that open before it
      outside = string_end(text, quote) + 1
      quote = text:find('"', outside, true)
    end
    if outside > e then -- it was inside the string just skipped
      e = text:find("e+", outside, true)
    else
      local first, last = number_around(text, e)
      local value = first and tonumber(text:sub(first, last))
      if value and value == math.floor(value) and math.abs(value) <= MAX_EXACT then
        parts[#parts + 1] = text:sub(copied, first - 1)
        parts[#parts + 1] = string.format("%.0f", value)
        copied = last + 1
      end
      e = text:find("e+", e + 2, true)
    end
  end
  if copied == 1 then
    return nil
  end
  parts[#parts + 1] = text:sub(copied)
  return table.concat(parts)
end

-- What envoy_on_request answers to a repeated query parameter, in the transcoder's words.
local REPEATED = "given more than once"

-- "include_archived" -> "includeArchived": the JSON name protobuf gives a field by default.
local function json_name(proto_path)
  return (proto_path:gsub("_(%l)", string.upper))
end

local EXPECTED = {
  TYPE_BOOL = "true or false",
  TYPE_INT32 = "a whole number from -2147483648 to 2147483647",
  TYPE_UINT32 = "a whole number from 0 to 4294967295",
  TYPE_INT64 = "a whole number",
  TYPE_UINT64 = "a whole number",
  TYPE_DOUBLE = "a number",
  TYPE_FLOAT = "a number",
}

-- The transcoder's message (after "invalid request: ") as {"error", "code", "field"}.
local function reworded_transcoder_error(message)
  if message == "Bad Request" then -- not the transcoder's: Envoy's HTTP codec refused the request
    return error_body("the request is not valid HTTP (a header name or value, or the request line)")
  end
  local unknown = message:match('^Could not find field "([^"]+)"')
  if unknown then
    return error_body("unknown query parameter " .. unknown, unknown)
  end
  local field, problem = message:match("^([%w_.]*): (.*)$")
  if field == "" or (problem and problem:find("google.protobuf.Struct", 1, true)) then
    return error_body("the request body must be a JSON object") -- an array, a string, a number
  elseif field then -- a query (or path) parameter
    local name = json_name(field)
    if problem == REPEATED then
      return error_body(name .. " is given more than once; each query parameter may be given once", name)
    end
    local value, kind = problem:match("^invalid value (.-) for type (%S+)$")
    if kind then
      local expected = EXPECTED[kind] or "a valid " .. kind:gsub("^TYPE_", ""):lower()
      return error_body(name .. " must be " .. expected .. ", got " .. value, name)
    end
    return error_body(name .. ": " .. problem, name)
  end
  -- JSON the transcoder could not parse: its first line says why (the rest quotes the body).
  return error_body("the request body is not valid JSON: " .. message:match("^[^\n]*"))
end

-- Headers are read and changed before the body is: once a filter reads the body, its headers
-- object is out of scope.
local function reshape_unshaped_error(handle, headers, grpc_status)
  headers:replace("content-type", "application/json")
  if grpc_status == "8" then -- RESOURCE_EXHAUSTED from gRPC itself: a message over its size limit
    headers:replace(":status", "413")
  end
  local body = handle:body(true)
  local text = body:getBytes(0, body:length())
  -- The shape that local_reply_config (gateway/envoy.yaml.in) gives the transcoder's 400s.
  local transcoder_message = text:match('^{"code":"INVALID_ARGUMENT","error":"invalid request: (.*)"}%s*$')
  if transcoder_message then
    body:setBytes(reworded_transcoder_error(json_unescaped(transcoder_message)))
  elseif not text:find('"error"', 1, true) then -- not already shaped (as Envoy's own local replies are)
    local code = text:match('^{"code":(%d+)') or "2"
    local message = text:match('"message":"(.-)","details"') or "upstream error"
    body:setBytes('{"error": "request failed: ' .. message .. '", "code": "GRPC_' .. code .. '"}')
  end
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local grpc_status = headers:get("grpc-status")
  headers:remove("grpc-status")
  headers:remove("grpc-message")
  local status = headers:get("x-portal-http-status")
  if status ~= nil then
    headers:replace(":status", status)
    headers:remove("x-portal-http-status")
    local err = headers:get("x-portal-error")
    if err ~= nil then
      headers:remove("x-portal-error")
      headers:replace("content-type", "application/json")
      handle:body(true):setBytes(err)
      return
    end
  elseif tonumber(headers:get(":status")) >= 400 then
    reshape_unshaped_error(handle, headers, grpc_status)
    return
  end
  local content_type = headers:get("content-type")
  if content_type and content_type:find("application/json", 1, true) == 1 then
    local body = handle:body(true)
    local text = body:getBytes(0, body:length())
    local plain = text:find("e+", 1, true) and plain_whole_numbers(text)
    if plain then
      body:setBytes(plain)
    end
  end
end

-- Headers travel on to the services as gRPC metadata, which refuses some of them (the call then
-- fails with a 500): names outside its alphabet (`ll+&rc`), binary values (`-bin`) that are not
-- base64, and gRPC's own (`grpc-timeout: abc`). No endpoint reads such a header: they are dropped.
local function is_gateway_only(name)
  return name:find("^:") == nil and
    (name:find("[^0-9a-z_.%-]") ~= nil or name:find("-bin$") ~= nil or name:find("^grpc%-") ~= nil)
end

local function drop_unsendable_headers(headers)
  local unsendable = {}
  for name in pairs(headers) do
    if is_gateway_only(name) then
      unsendable[#unsendable + 1] = name
    end
  end
  for _, name in ipairs(unsendable) do
    headers:remove(name)
  end
end

-- /api/v1/crm/contacts/ is /api/v1/crm/contacts: the routes' regular expressions (and the PDF
-- route's rewrite) would not match the path with its trailing slash, so it goes before routing.
local function drop_trailing_slash(handle, headers)
  local path, query = headers:get(":path"):match("^([^?]*)(.*)$")
  if #path > 1 and path:sub(-1) == "/" then
    headers:replace(":path", path:sub(1, -2) .. query)
    handle:clearRouteCache()
  end
end

-- No query parameter of the API is repeated, and the transcoder silently keeps the last value of
-- one given twice (or refuses it in words that name no parameter). So a parameter given twice is
-- refused here, as a local reply in the transcoder's form, which envoy_on_response then shapes.
local function refuse_repeated_parameter(handle, headers)
  local query = headers:get(":path"):match("%?(.*)")
  if query == nil or not query:find("&", 1, true) then
    return
  end
  local seen = {}
  for pair in query:gmatch("[^&]+") do
    local name = pair:match("^[^=]*")
    local key = json_name(name) -- include_archived and includeArchived are the same parameter
    if seen[key] then
      handle:respond({[":status"] = "400"}, name .. ": " .. REPEATED)
      return
    end
    seen[key] = true
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  drop_unsendable_headers(headers)
  drop_trailing_slash(handle, headers)
  refuse_repeated_parameter(handle, headers)
end
