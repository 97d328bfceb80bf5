-- Frees the held (unsold) claims of several holds of one trip and forgets them in their holders'
-- counts, publishing one event per hold.
-- KEYS[1] the trip's index hash    seat:{<trip>}:index
-- KEYS[1 + h] hold h's holder       seat:{<trip>}:holder:<holder_id>
-- ARGV[1] events channel
-- ARGV[2] the holds, JSON: [[hold id, seats in the hold, event, [claim field "<seat>|<segment>", ...]],
--   ...], numbers as strings
-- Returns the number of claims freed, or -1 when the index is not loaded.
if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
  return -1
end
local freed = 0
for h, spec in ipairs(cjson.decode(ARGV[2])) do
  local hold_id, seats, event, fields = spec[1], spec[2], spec[3], spec[4]
  local prefix = 'H:' .. hold_id .. ':'
  for _, field in ipairs(fields) do
    local claim = redis.call('HGET', KEYS[1], field)
    if claim and string.sub(claim, 1, #prefix) == prefix then
      redis.call('HDEL', KEYS[1], field)
      freed = freed + 1
    end
  end
  redis.call('ZREM', KEYS[1 + h], seats .. ':' .. hold_id)
  redis.call('PUBLISH', ARGV[1], event)
end
return freed
