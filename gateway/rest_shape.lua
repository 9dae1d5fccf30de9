-- Shapes service responses for the REST surface. The services send two pieces of metadata
-- (see libs/portal_common/src/portal_common/errors.py):
--   x-portal-http-status  the HTTP status to answer with (201 for creations, 409 for conflicts...)
--   x-portal-error        the REST error body, {"error": "...", "code": "...", ...}, as ASCII JSON
-- A gRPC error that no service shaped (gRPC's own, such as a message over its size limit) comes
-- as the transcoder's {"code": N, "message": "..."}; it is reshaped into {"error": ...} too.
-- It also drops the gRPC status headers that the transcoder copies onto REST responses.

local function reshape_unshaped_error(handle, headers)
  local body = handle:body(true)
  local text = body and body:getBytes(0, body:length()) or ""
  if text:find('"error"', 1, true) then
    return -- already shaped (Envoy's own local replies)
  end
  local code = text:match('^{"code":(%d+)') or "2"
  local message = text:match('"message":"(.-)","details"') or "upstream error"
  if code == "8" then -- RESOURCE_EXHAUSTED from gRPC itself: a message over its size limit
    headers:replace(":status", "413")
  end
  headers:replace("content-type", "application/json")
  body:setBytes('{"error": "request failed: ' .. message .. '", "code": "GRPC_' .. code .. '"}')
end

function envoy_on_response(handle)
  local headers = handle:headers()
  headers:remove("grpc-status")
  headers:remove("grpc-message")
  local status = headers:get("x-portal-http-status")
  if status == nil then
    if tonumber(headers:get(":status")) >= 400 then
      reshape_unshaped_error(handle, headers)
    end
    return
  end
  headers:replace(":status", status)
  headers:remove("x-portal-http-status")
  local err = headers:get("x-portal-error")
  if err ~= nil then
    headers:remove("x-portal-error")
    headers:replace("content-type", "application/json")
    handle:body(true):setBytes(err)
  end
end
