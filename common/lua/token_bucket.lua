-- Token bucket: takes one token from a bucket if it has one, refilling it for the time elapsed.
--
-- KEYS[1]  the bucket, a hash {tokens, updated_us}; one bucket per principal and rate-limit class,
--          hash-tagged by principal (farebox:rl:{<principal>}:<class>)
-- ARGV[1]  capacity: the most tokens the bucket holds (and its burst)
-- ARGV[2]  period_us: microseconds to refill an empty bucket completely
-- ARGV[3]  now_us: the caller's clock, microseconds since the epoch
--
-- Returns {allowed (1 or 0), microseconds until a token is available (0 when allowed)}.

local capacity = tonumber(ARGV[1])
local period_us = tonumber(ARGV[2])
local now_us = tonumber(ARGV[3])
local rate = capacity / period_us

local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated_us')
local tokens = tonumber(state[1])
local updated_us = tonumber(state[2])
if tokens == nil or updated_us == nil then
  tokens = capacity
  updated_us = now_us
end

-- A clock behind the last update refills nothing rather than draining the bucket.
local elapsed = math.max(0, now_us - updated_us)
tokens = math.min(capacity, tokens + elapsed * rate)
updated_us = math.max(updated_us, now_us)

local allowed = 0
local wait_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait_us = math.ceil((1 - tokens) / rate)
end

redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'updated_us', string.format('%.0f', updated_us))
-- The bucket is full again (and may be forgotten) once it has refilled from its current level.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate / 1000) + 1000)

return {allowed, wait_us}
