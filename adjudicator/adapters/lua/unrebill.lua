-- Undo a rebill's Redis step whose ledger transaction did not commit: forget the new
-- claim's grant, and give the old claim its grant again when the ledger still pays it.
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: new claim_id, old claim_id, '1' to restore the old grant (else '0')
-- Returns {new grant forgotten, old grant restored}, in cents.
local key = KEYS[1]
local new_id, old_id, restore = ARGV[1], ARGV[2], ARGV[3]

local function grant_of(claim_id)
  local recorded = redis.call('HGET', key, 'grant:' .. claim_id)
  if not recorded then
    return nil, 0
  end
  local year, cents = string.match(recorded, '^(.*):(%-?%d+):%-?%d+$')
  return year, tonumber(cents)
end

local forgotten, restored = 0, 0
local new_year, new_granted = grant_of(new_id)
if new_year then
  if redis.call('HEXISTS', key, 'released:' .. new_id) == 0 then
    forgotten = new_granted
    redis.call('HINCRBY', key, 'used:' .. new_year, string.format('%d', -new_granted))
  end
  redis.call('HDEL', key, 'grant:' .. new_id, 'released:' .. new_id)
end
local old_year, old_granted = grant_of(old_id)
if restore == '1' and old_year and redis.call('HDEL', key, 'released:' .. old_id) == 1 then
  restored = old_granted
  redis.call('HINCRBY', key, 'used:' .. old_year, string.format('%d', old_granted))
end
return {forgotten, restored}
