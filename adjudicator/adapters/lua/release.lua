-- Give a claim's grant back to the enrollment year it was taken from, at most once.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: claim_id
-- Returns {enrollment_id, released, used_after}; {nil, 0, nil} when the claim has no grant.
local key = KEYS[1]
local claim_id = ARGV[1]
local grant_field = 'grant:' .. claim_id

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
if redis.call('HSETNX', key, 'released:' .. claim_id, '1') == 0 then
  return {enrollment_id, 0, tonumber(redis.call('HGET', key, used_field) or '0')}
end
local used_after = redis.call('HINCRBY', key, used_field, string.format('%d', -tonumber(granted)))
return {enrollment_id, tonumber(granted), used_after}
