-- An instance says it is alive for ttl more ms (by Redis's clock); instances
-- whose time has run out are dropped.
-- KEYS[1]: the instances, a sorted set scored by expiry (ms).
-- ARGV: instance id, ttl in ms.
-- Returns how many instances are live, this one included.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[1])
return redis.call('ZCARD', KEYS[1])
