-- wrk script for the write path: POSTs that create, each checked for 201; figures as latency.lua prints them.
-- Usage: wrk ... -s bench/writes.lua http://host:port -- <api key> <case> <run tag> [<file of contact ids>]
--   case contact:         POST /api/v1/crm/contacts, a new email each request (run tag, thread, counter)
--   case invoice-billto:  POST /api/v1/invoices, a b2c_single draft billed to a name and an email
--   case invoice-contact: POST /api/v1/invoices, a b2c_single draft billed to a contactId (the ids in turn)
-- Answers other than 201 are counted ("not_created" in BENCH_RESULT) and the first few printed.

-- latency.lua's setup (numbers the threads) and done (prints BENCH_RESULT), from beside this file.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "latency.lua")

local threads = {}
local base_setup, base_done = setup, done
local headers, kind, tag
local fixed = {}      -- pre-formatted requests (the invoice cases)
local next_index = 1
local counter = 0
not_created = 0       -- globals, read from each thread by done()
failures = ""

function setup(thread)
  base_setup(thread)
  threads[#threads + 1] = thread
end

local LINES = '[{"description": "Development sprint 1: backend work and review", "quantity": 1.5, ' ..
  '"unitPriceInCents": 7500, "taxRatePercent": 7.5}, {"description": "Code review and deployment", ' ..
  '"quantity": 2, "unitPriceInCents": 9000, "taxRatePercent": 7.5}, {"description": "Hosting (monthly)", ' ..
  '"quantity": 1, "unitPriceInCents": 2500}]'

local function invoice(bill_to)
  return '{"type": "b2c_single", "currency": "EUR", "paymentTerms": "net30", "billTo": ' .. bill_to ..
    ', "lineItems": ' .. LINES .. ', "notes": "Payment due within 30 days."}'
end

function init(args)
  headers = {["Authorization"] = "Bearer " .. args[1], ["Accept"] = "application/json",
             ["Content-Type"] = "application/json"}
  kind, tag = args[2], args[3]
  if kind == "invoice-billto" then
    fixed[1] = wrk.format("POST", "/api/v1/invoices", headers,
                          invoice('{"name": "Ada Lovelace", "email": "ada@writes.example"}'))
  elseif kind == "invoice-contact" then
    for id in io.lines(args[4]) do
      fixed[#fixed + 1] = wrk.format("POST", "/api/v1/invoices", headers, invoice('{"contactId": "' .. id .. '"}'))
    end
    next_index = ((thread_number - 1) * 101) % #fixed + 1
  elseif kind ~= "contact" then
    error("writes.lua: unknown case " .. tostring(kind))
  end
end

function request()
  if kind ~= "contact" then
    local r = fixed[next_index]
    next_index = next_index % #fixed + 1
    return r
  end
  counter = counter + 1
  local body = string.format(
    '{"email": "bench.%s.%d.%d@writes.example", "firstName": "Bench", "lastName": "Writer %d", ' ..
    '"subtype": "lead", "phone": "+1-555-0100", "company": "Acme Labs", "jobTitle": "Engineer", ' ..
    '"source": "api", "tags": ["newsletter", "trial"]}', tag, thread_number, counter, counter)
  return wrk.format("POST", "/api/v1/crm/contacts", headers, body)
end

function response(status, _, body)
  if status ~= 201 then
    not_created = not_created + 1
    if not_created <= 3 then
      failures = failures .. string.format("BENCH_FAILURE %d %s\n", status, ((body or ""):sub(1, 300):gsub("\n", " ")))
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_created")
    io.write(thread:get("failures"))
  end
  io.write(string.format("BENCH_NOT_CREATED %d\n", total))
  base_done(summary, latency, requests)
end
