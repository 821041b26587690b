-- Undo a reservation whose decision was never recorded, so the claim id can reserve afresh
-- (release, by contrast, keeps the grant: a reversed claim is never granted again).
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: claim_id
-- Returns {enrollment_id, released, used_after}; {nil, 0, nil} when the claim has no grant.
local key = KEYS[1]
local claim_id = ARGV[1]
local grant_field, released_field = 'grant:' .. claim_id, 'released:' .. claim_id

local recorded = redis.call('HGET', key, grant_field)
if not recorded then
  return {false, 0, false}
end
local enrollment_id, granted = string.match(recorded, '^(.*):(%-?%d+):%-?%d+$')
if not enrollment_id then
  return redis.error_reply('corrupt ' .. grant_field .. ' in ' .. key)
end

local used_field = 'used:' .. enrollment_id
local released = 0
if redis.call('HEXISTS', key, released_field) == 0 then
  released = tonumber(granted)
  redis.call('HINCRBY', key, used_field, string.format('%d', -released))
end
redis.call('HDEL', key, grant_field, released_field)
return {enrollment_id, released, tonumber(redis.call('HGET', key, used_field) or '0')}
