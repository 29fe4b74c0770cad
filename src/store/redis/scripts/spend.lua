-- One batch of ledger rows, applied at most once: a batch sent again (its
-- reply was lost, or the instance replays its local ledger) finds its marker
-- and changes nothing.
-- KEYS[1]: the batch's marker; KEYS[2]: the ledger stream; then three keys
-- per rollup group: the day's hash, that day's index of ids, the all-time hash.
-- ARGV[1]: marker ttl (s); ARGV[2]: rollup retention (s); ARGV[3]: stream cap;
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
  local day, index, total = KEYS[3 + 3 * g], KEYS[4 + 3 * g], KEYS[5 + 3 * g]
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
for i = 0, n - 1 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
    'instance', ARGV[4], 'format', 'tollgate-ledger-2',
    'first_seq', ARGV[a + 1 + 2 * i], 'count', ARGV[a + 2 + 2 * i],
    'rows', ARGV[a + 1 + 2 * n + i])
end
return 1
