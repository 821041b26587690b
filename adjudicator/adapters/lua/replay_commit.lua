-- After a re-adjudication committed a patient-year to SQL (or to undo a hold whose SQL
-- transaction failed): write the year's grants as the ledger now has them, drop the grants
-- of its claims that no longer pay, and set the year's used amount to the sum of its grants
-- not released, which keeps every grant a live claim took meanwhile.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: enrollment_id, n, then n triples (claim_id, granted cents, used_before cents),
--       then the ids of the year's claims that hold no grant now
-- Returns the year's used amount.
local key, year = KEYS[1], ARGV[1]
local n = tonumber(ARGV[2])
local last = 2 + 3 * n
for i = 3, last, 3 do
  redis.call('HSET', key, 'grant:' .. ARGV[i],
    string.format('%s:%d:%d', year, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])))
end
for i = last + 1, #ARGV do
  redis.call('HDEL', key, 'grant:' .. ARGV[i], 'released:' .. ARGV[i])
end

local used = 0
local fields = redis.call('HGETALL', key)
local released = {}
for i = 1, #fields, 2 do
  local id = string.match(fields[i], '^released:(.*)$')
  if id then
    released[id] = true
  end
end
for i = 1, #fields, 2 do
  local id = string.match(fields[i], '^grant:(.*)$')
  if id and not released[id] then
    local grant_year, granted = string.match(fields[i + 1], '^(.*):(%-?%d+):%-?%d+$')
    if grant_year == year then
      used = used + tonumber(granted)
    end
  end
end
redis.call('HSET', key, 'used:' .. year, string.format('%d', used))
return used
