-- Claims every (seat, segment) of a span for one hold, or none of them.
-- A claim is "H:<hold_id>:<expire_ms>" (held until then) or "S:<hold_id>:0" (sold). A held claim
-- past its expiry is free: availability never depends on a key's TTL or on a sweeper.
-- KEYS[1] the trip's index hash    seat:{<trip>}:index   (field "epoch" marks it loaded)
-- KEYS[2] the holder's holds        seat:{<trip>}:holder:<holder_id>   (zset "<n>:<hold_id>" -> expiry)
-- ARGV[1] now, ms      ARGV[2] expiry, ms      ARGV[3] hold id      ARGV[4] seats allowed per holder
-- ARGV[5] seats in this hold      ARGV[6] events channel      ARGV[7] event to publish on success
-- ARGV[8..] the claim fields "<seat>|<segment>"
-- Returns {"OK", epoch} | {"TAKEN", seat, ...} | {"LIMIT", seats already held or sold}
--       | {"DUP", claim, epoch} when the hold already claims them | {"NOINDEX"} when not loaded.
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  return {'NOINDEX'}
end
local now = tonumber(ARGV[1])
local hold_id = ARGV[3]
local fields = {}
for i = 8, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
local claims = redis.call('HMGET', KEYS[1], unpack(fields))
local taken, seen = {}, {}
for i, claim in ipairs(claims) do
  if claim then
    local kind, owner, expire = string.match(claim, '^(%a):([^:]+):(%d+)$')
    if owner == hold_id then
      return {'DUP', claim, epoch}
    end
    if kind == 'S' or tonumber(expire) > now then
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
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local count = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  count = count + tonumber(string.match(member, '^(%d+):'))
end
if count + tonumber(ARGV[5]) > tonumber(ARGV[4]) then
  return {'LIMIT', tostring(count)}
end
local value = 'H:' .. hold_id .. ':' .. ARGV[2]
local updates = {}
for _, field in ipairs(fields) do
  updates[#updates + 1] = field
  updates[#updates + 1] = value
end
redis.call('HSET', KEYS[1], unpack(updates))
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[5] .. ':' .. hold_id)
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {'OK', epoch}
