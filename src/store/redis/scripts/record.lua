-- A shared record (key, team or end user) changed, and the records' version
-- bumped in the same step, so an instance polling the version never misses
-- a change.
-- KEYS[1]: the records' hash (id -> JSON); KEYS[2]: the version counter.
-- ARGV: op (put | swap | delete), id, then for put the JSON, for swap the
-- new JSON and the JSON it must still hold.
-- Returns the new version, or 0 when nothing changed.
local op, id = ARGV[1], ARGV[2]
if op == 'put' then
  redis.call('HSET', KEYS[1], id, ARGV[3])
elseif op == 'swap' then
  if redis.call('HGET', KEYS[1], id) ~= ARGV[4] then
    return 0
  end
  redis.call('HSET', KEYS[1], id, ARGV[3])
elseif op == 'delete' then
  if redis.call('HDEL', KEYS[1], id) == 0 then
    return 0
  end
else
  return redis.error_reply('ERR unknown record op')
end
return redis.call('INCR', KEYS[2])
