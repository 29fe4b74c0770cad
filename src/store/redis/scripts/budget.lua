-- One budget's consumed nano-USD in one period, shared by every instance.
-- KEYS[1]: the counter; absent means nothing consumed.
-- ARGV: op (lease | give | charge), n, limit, ttl in s (0: never expires).
-- Returns {granted, limit - consumed, ms until the counter expires (0: never)}.
local op, n = ARGV[1], tonumber(ARGV[2])
local limit, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')

local granted = 0
if op == 'lease' then
  granted = math.max(0, math.min(n, limit - used))
  if granted > 0 then
    used = redis.call('INCRBY', KEYS[1], string.format('%d', granted))
  end
elseif op == 'give' then
  -- Never below zero: a give-back to a counter that has expired (its period
  -- is over) frees nothing.
  local back = math.min(n, used)
  if back > 0 then
    used = redis.call('DECRBY', KEYS[1], string.format('%d', back))
  end
elseif op == 'charge' then
  if n ~= 0 then
    used = redis.call('INCRBY', KEYS[1], string.format('%d', n))
  end
else
  return redis.error_reply('ERR unknown budget op')
end

if ttl > 0 and redis.call('TTL', KEYS[1]) == -1 then
  redis.call('EXPIRE', KEYS[1], string.format('%d', ttl))
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then
  pttl = 0
end
return {granted, limit - used, pttl}
