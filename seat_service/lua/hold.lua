-- Claims every (seat, segment) of a span for each of several holds of one trip, in order: each hold
-- gets all of its claims or none of them, and sees the claims of the holds before it.
-- A claim is "H:<hold_id>:<expire_ms>" (held until then) or "S:<hold_id>:0" (sold). A held claim
-- past its expiry is free: availability never depends on a key's TTL or on a sweeper.
-- KEYS[1] the trip's index hash    seat:{<trip>}:index   (field "epoch" marks it loaded)
-- KEYS[1 + h] hold h's holder       seat:{<trip>}:holder:<holder_id>   (zset "<n>:<hold_id>" -> expiry)
-- ARGV[1] events channel
-- ARGV[2] the holds, JSON: [[now ms, expiry ms, hold id, seats allowed per holder, seats in the hold,
--   event to publish on success, [claim field "<seat>|<segment>", ...]], ...], numbers as strings
-- Returns {"NOINDEX"} when the index is not loaded, else one reply per hold:
--   {"OK", epoch} | {"TAKEN", seat, ...} | {"LIMIT", seats already held or sold}
--   | {"DUP", claim, epoch} when the hold already claims them.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  return {'NOINDEX'}
end

local function hold(holder_key, now, expire, hold_id, limit, seats, event, fields)
  local claims = redis.call('HMGET', KEYS[1], unpack(fields))
  local taken, seen = {}, {}
  for i, claim in ipairs(claims) do
    if claim then
      local kind, owner, until_ms = string.match(claim, '^(%a):([^:]+):(%d+)$')
      if owner == hold_id then
        return {'DUP', claim, epoch}
      end
      if kind == 'S' or tonumber(until_ms) > now then
        local seat = string.match(fields[i], '^(.*)|')
        if not seen[seat] then
          seen[seat] = true
          taken[#taken + 1] = seat
        end
      end
    end
  end
  if #taken > 0 then
    return {'TAKEN', unpack(taken)}
  end
  redis.call('ZREMRANGEBYSCORE', holder_key, '-inf', now)
  local count = 0
  for _, member in ipairs(redis.call('ZRANGE', holder_key, 0, -1)) do
    count = count + tonumber(string.match(member, '^(%d+):'))
  end
  if count + tonumber(seats) > tonumber(limit) then
    return {'LIMIT', tostring(count)}
  end
  local value = 'H:' .. hold_id .. ':' .. expire
  local updates = {}
  for _, field in ipairs(fields) do
    updates[#updates + 1] = field
    updates[#updates + 1] = value
  end
  redis.call('HSET', KEYS[1], unpack(updates))
  redis.call('ZADD', holder_key, tonumber(expire), seats .. ':' .. hold_id)
  redis.call('PUBLISH', ARGV[1], event)
  return {'OK', epoch}
end

local replies = {}
for h, spec in ipairs(cjson.decode(ARGV[2])) do
  replies[h] = hold(KEYS[1 + h], tonumber(spec[1]), spec[2], spec[3], spec[4], spec[5], spec[6], spec[7])
end
return replies
