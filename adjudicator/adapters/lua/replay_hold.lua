-- Before a re-adjudication commits a patient-year's new decisions to SQL: make sure Redis
-- holds no payment the ledger read does not know, then raise the year's used amount so it
-- covers both the old and the replayed decisions until the commit (replay_commit.lua).
-- KEYS[1]: acc:{<cardholder_id>}, the only key touched
-- ARGV: enrollment_id, replayed total (cents), then one triple per claim of the year the
--       ledger holds: claim_id, state ("p" paid, "v" reversed, "q" received, "r" any other),
--       replayed grant (cents; 0 when the replay does not pay it)
-- Returns {1, used} once held; {0, reason, claim_id} when a claim is in flight:
--   "in_flight": a grant of this year for a claim the ledger read shows undecided or not at all
--   "reversing": a released grant of a claim the ledger read shows paid
local key, year = KEYS[1], ARGV[1]
local total = tonumber(ARGV[2])
local states, replayed = {}, {}
for i = 3, #ARGV, 3 do
  states[ARGV[i]] = ARGV[i + 1]
  replayed[ARGV[i]] = tonumber(ARGV[i + 2])
end

local fields = redis.call('HGETALL', key)
local grants = {}
for i = 1, #fields, 2 do
  local kind, id = string.match(fields[i], '^(%a+):(.*)$')
  if kind == 'grant' then
    local grant_year, granted, used_before = string.match(fields[i + 1], '^(.*):(%-?%d+):(%-?%d+)$')
    if not grant_year then
      return redis.error_reply('corrupt ' .. fields[i] .. ' in ' .. key)
    end
    if grant_year == year then
      local state = states[id]
      if state == nil or state == 'q' then
        return {0, 'in_flight', id}
      end
      grants[id] = {tonumber(granted), used_before}
    end
  elseif kind == 'released' and states[id] == 'p' then
    return {0, 'reversing', id}
  end
end

-- A paid claim the replay pays less: lower its grant now, so a reversal before the commit
-- gives back no more than either decision paid (used then still covers both).
for id, grant in pairs(grants) do
  if states[id] == 'p' and replayed[id] < grant[1] then
    redis.call('HSET', key, 'grant:' .. id,
      string.format('%s:%d:%s', year, replayed[id], grant[2]))
  end
end

local used_field = 'used:' .. year
local used = tonumber(redis.call('HGET', key, used_field) or '0')
if total > used then
  used = total
  redis.call('HSET', key, used_field, string.format('%d', used))
end
return {1, used}
