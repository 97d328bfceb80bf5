-- Marks a committed hold's claims sold, after PostgreSQL recorded the sale.
-- KEYS[1] the trip's index hash    seat:{<trip>}:index
-- KEYS[2] the holder's holds        seat:{<trip>}:holder:<holder_id>
-- ARGV[1] hold id      ARGV[2] seats in the hold      ARGV[3] events channel      ARGV[4] event
-- ARGV[5..] the claim fields "<seat>|<segment>"
-- Returns the number of claims marked, or -1 when the index is not loaded.
if redis.call('HEXISTS', KEYS[1], 'epoch') == 0 then
  return -1
end
local value = 'S:' .. ARGV[1] .. ':0'
for i = 5, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], value)
end
redis.call('ZADD', KEYS[2], 'inf', ARGV[2] .. ':' .. ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return #ARGV - 4
