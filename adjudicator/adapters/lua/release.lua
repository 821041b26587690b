-- Give a claim's grant back to the enrollment year it was taken from, at most once.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV[1]: claim_id
-- ARGV[2]: 'keep' (a reversal: the grant stays, marked released, never granted again) or
--          'forget' (a cancel: the reservation was never recorded; the claim id may reserve
--          afresh)
-- Returns {enrollment_id, released, used_after}; {nil, 0, nil} when the claim has no grant.
local key = KEYS[1]
local claim_id, mode = ARGV[1], ARGV[2]
local grant_field, released_field = 'grant:' .. claim_id, 'released:' .. claim_id

local recorded = redis.call('HGET', key, grant_field)
if not recorded then
  return {false, 0, false}
end
local enrollment_id, granted = string.match(recorded, '^(.*):(%-?%d+):%-?%d+$')
if not enrollment_id then
  return redis.error_reply('corrupt ' .. grant_field .. ' in ' .. key)
end

-- The grant's own year, not the caller's current one: a reversal after the year rolls
-- over must still free room in the year that paid.
local used_field = 'used:' .. enrollment_id
local released = 0
if redis.call('HSETNX', key, released_field, '1') == 1 then
  released = tonumber(granted)
  redis.call('HINCRBY', key, used_field, string.format('%d', -released))
end
if mode == 'forget' then
  redis.call('HDEL', key, grant_field, released_field)
end
return {enrollment_id, released, tonumber(redis.call('HGET', key, used_field) or '0')}
