-- One batch of ledger rows, applied at most once: a batch sent again (its
-- reply was lost, or the instance replays its local ledger) finds its marker
-- and changes nothing.
-- KEYS[1]: the batch's marker; KEYS[2]: the ledger stream; KEYS[3]: the
-- stream's batches, oldest first ("<rows> <entry id>"); KEYS[4]: the rows
-- the stream holds; then three keys per rollup group: the day's hash, that
-- day's index of ids, the all-time hash.
-- ARGV[1]: marker ttl (s); ARGV[2]: rollup retention (s); ARGV[3]: the rows
-- the stream keeps (also its entry cap: an entry holds at least one row);
-- ARGV[4]: instance; ARGV[5]: group count; then per group its id and six
-- counters; then the number of packed batches, each one's first sequence
-- number and row count, and then the packed batches themselves (the rows as
-- the embedded store keeps them, codec version 2: one stream entry per
-- batch the store committed; JSON cost Redis and the gateway more CPU than
-- the request itself).
-- Returns 1 when applied, 0 when the batch had been applied before.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return 0
end

local fields = {'requests', 'prompt_tokens', 'completion_tokens',
  'provider_nanos', 'charge_nanos', 'gateway_nanos'}
local a = 6
for g = 0, tonumber(ARGV[5]) - 1 do
  local day, index, total = KEYS[5 + 3 * g], KEYS[6 + 3 * g], KEYS[7 + 3 * g]
  for f = 1, 6 do
    local v = ARGV[a + f]
    if v ~= '0' then
      redis.call('HINCRBY', day, fields[f], v)
      redis.call('HINCRBY', total, fields[f], v)
    end
  end
  redis.call('EXPIRE', day, ARGV[2])
  redis.call('SADD', index, ARGV[a])
  redis.call('EXPIRE', index, ARGV[2])
  a = a + 7
end

local n = tonumber(ARGV[a])
local added = 0
for i = 0, n - 1 do
  local count = ARGV[a + 2 + 2 * i]
  local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
    'instance', ARGV[4], 'format', 'tollgate-ledger-3',
    'first_seq', ARGV[a + 1 + 2 * i], 'count', count,
    'rows', ARGV[a + 1 + 2 * n + i])
  redis.call('RPUSH', KEYS[3], count .. ' ' .. id)
  added = added + tonumber(count)
end
-- The stream keeps a budget of rows, not of entries: an entry is a batch
-- of one row or a thousand. The oldest batches go until the rest fit; the
-- ones just added always stay.
local held = redis.call('INCRBY', KEYS[4], added)
local budget = tonumber(ARGV[3])
while held > budget and redis.call('LLEN', KEYS[3]) > n do
  local oldest = redis.call('LPOP', KEYS[3])
  local space = string.find(oldest, ' ', 1, true)
  redis.call('XDEL', KEYS[2], string.sub(oldest, space + 1))
  held = redis.call('DECRBY', KEYS[4], tonumber(string.sub(oldest, 1, space - 1)))
end
return 1
