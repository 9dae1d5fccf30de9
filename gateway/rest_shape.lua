-- Shapes service responses for the REST surface. The services send two pieces of metadata
-- (see libs/portal_common/src/portal_common/errors.py):
--   x-portal-http-status  the HTTP status to answer with (201 for creations, 409 for conflicts...)
--   x-portal-error        the REST error body, {"error": "...", "code": "...", ...}, as ASCII JSON
-- It also drops the gRPC status headers that the transcoder copies onto REST responses.
function envoy_on_response(handle)
  local headers = handle:headers()
  headers:remove("grpc-status")
  headers:remove("grpc-message")
  local status = headers:get("x-portal-http-status")
  if status == nil then
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
