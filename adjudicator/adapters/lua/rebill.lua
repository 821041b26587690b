-- A rebill (NCPDP B3): give the old claim's grant back and reserve the new claim's in one
-- step, so the new grant sees the year with the old amount given back and no other claim
-- can take that room in between. Nothing changes unless the new claim is granted something.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: enrollment_id, claim_id (new), requested cents, annual max cents, old claim_id
-- Returns {replayed (0|1), used_before (the old claim given back), granted}.
local key = KEYS[1]
local enrollment_id, claim_id, old_id = ARGV[1], ARGV[2], ARGV[5]
local grant_field = 'grant:' .. claim_id

local recorded = redis.call('HGET', key, grant_field)
if recorded then
  local _, granted, used_before = string.match(recorded, '^(.*):(%-?%d+):(%-?%d+)$')
  if not granted then
    return redis.error_reply('corrupt ' .. grant_field .. ' in ' .. key)
  end
  return {1, tonumber(used_before), tonumber(granted)}
end

-- The old grant, unless it was given back already.
local old_year, old_granted = nil, 0
local old = redis.call('HGET', key, 'grant:' .. old_id)
if old and redis.call('HEXISTS', key, 'released:' .. old_id) == 0 then
  local year, cents = string.match(old, '^(.*):(%-?%d+):%-?%d+$')
  if not year then
    return redis.error_reply('corrupt grant:' .. old_id .. ' in ' .. key)
  end
  old_year, old_granted = year, tonumber(cents)
end

local used_field = 'used:' .. enrollment_id
local used_before = tonumber(redis.call('HGET', key, used_field) or '0')
if old_year == enrollment_id then
  used_before = used_before - old_granted
end
local requested, annual_max = tonumber(ARGV[3]), tonumber(ARGV[4])
local granted = math.min(requested, math.max(annual_max - used_before, 0))
if granted <= 0 then
  return {0, used_before, 0}
end

if old_year then
  redis.call('HSET', key, 'released:' .. old_id, '1')
  redis.call('HINCRBY', key, 'used:' .. old_year, string.format('%d', -old_granted))
end
redis.call('HINCRBY', key, used_field, string.format('%d', granted))
redis.call('HSET', key, grant_field, string.format('%s:%d:%d', enrollment_id, granted, used_before))
return {0, used_before, granted}
