-- A token bucket every instance shares, refilled by Redis's own clock so the
-- instances' clocks never have to agree.
-- KEYS[1]: the bucket, a hash {level, ts}; absent means full.
-- ARGV: op (lease | give | charge), n, capacity, refill per ms (0: none).
-- Returns {granted, level rounded down, ms until full (0: never refills)}.
local op, n = ARGV[1], tonumber(ARGV[2])
local cap, per_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local state = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level, ts = tonumber(state[1]), tonumber(state[2])
if level == nil or ts == nil then
  level, ts = cap, now
end
if now > ts then
  level = level + (now - ts) * per_ms
  ts = now
end
if level > cap then
  level = cap
end

local granted = 0
if op == 'lease' then
  granted = math.max(0, math.min(n, math.floor(level)))
  level = level - granted
elseif op == 'give' then
  level = math.min(cap, level + n)
elseif op == 'charge' then
  level = level - n
else
  return redis.error_reply('ERR unknown bucket op')
end

redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level),
  'ts', string.format('%d', ts))
local to_full = 0
if per_ms > 0 then
  -- Capped near a century so the expiry stays a valid integer.
  to_full = math.min(math.ceil((cap - level) / per_ms), 3e12)
  -- Kept until full and a minute more; after that, absent reads as full.
  redis.call('PEXPIRE', KEYS[1], string.format('%d', to_full + 60000))
else
  -- A bucket that never refills must keep its level.
  redis.call('PERSIST', KEYS[1])
end
return {granted, math.floor(level), to_full}
