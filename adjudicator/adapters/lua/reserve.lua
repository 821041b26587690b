-- Reserve part of one cardholder's annual benefit for one claim, at most once per claim.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched (so it runs on Redis Cluster)
-- ARGV: enrollment_id, claim_id, requested cents, annual max cents (integers >= 0)
-- Returns {replayed (0|1), used_before, granted}.
local key = KEYS[1]
local enrollment_id, claim_id = ARGV[1], ARGV[2]
local grant_field = 'grant:' .. claim_id

-- The claim id is the idempotency key: a redelivered claim gets its first answer back,
-- even after a release (a reversed claim is never granted again).
local recorded = redis.call('HGET', key, grant_field)
if recorded then
  local _, granted, used_before = string.match(recorded, '^(.*):(%-?%d+):(%-?%d+)$')
  if not granted then
    return redis.error_reply('corrupt ' .. grant_field .. ' in ' .. key)
  end
  return {1, tonumber(used_before), tonumber(granted)}
end

local used_field = 'used:' .. enrollment_id
local used = tonumber(redis.call('HGET', key, used_field) or '0')
local requested, annual_max = tonumber(ARGV[3]), tonumber(ARGV[4])
local granted = math.min(requested, math.max(annual_max - used, 0))

-- string.format('%d'): Lua's default number formatting would switch to 1e+14 notation
redis.call('HINCRBY', key, used_field, string.format('%d', granted))
-- recorded even when 0, so a replay stays 0 after other claims free up room
redis.call('HSET', key, grant_field, string.format('%s:%d:%d', enrollment_id, granted, used))
return {0, used, granted}
