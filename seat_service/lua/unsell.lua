-- Returns a cancelled sale's claims to stock, after PostgreSQL removed the sale.
-- KEYS[1] the trip's index hash    seat:{<trip>}:index
-- KEYS[2] the holder's holds        seat:{<trip>}:holder:<holder_id>
-- ARGV[1] hold id      ARGV[2] seats in the hold      ARGV[3] events channel      ARGV[4] event
-- ARGV[5..] the claim fields "<seat>|<segment>"
-- Returns the number of claims returned, or -1 when the index is not loaded.
if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
  return -1
end
local sold = 'S:' .. ARGV[1] .. ':0'
local returned = 0
for i = 5, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == sold then
    redis.call('HDEL', KEYS[1], ARGV[i])
    returned = returned + 1
  end
end
redis.call('ZREM', KEYS[2], ARGV[2] .. ':' .. ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return returned
