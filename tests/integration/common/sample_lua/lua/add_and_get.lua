-- Adds ARGV[1] to the counter and returns the new value.
-- KEYS[1]: the counter key
-- ARGV[1]: the amount to add
return redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
