-- Commits customer writes, each only when the customer's version is still
-- the one its writer read: optimistic concurrency, so that the writer (the
-- pipeline or the sweep, on any replica) can compute the new profile, tier
-- and index entries in Go and have them applied atomically with the
-- version check, the event-id guards and the tombstones.
--
-- ARGV[1] is the number of sections; each section is
--   customer hash key index, expected version ("0": no customer),
--   tombstone hash key index, tombstone field, expected tombstone ("": none),
--   op count,
-- then its ops, four arguments each: code, key index, a, b:
--   H key field value   HSET            Z key score member  ZADD
--   R key member -      ZREM            I key field delta   HINCRBY
--   T key max -         ZREMRANGEBYSCORE key -inf max
--   P key ms -          PEXPIRE         D key - -           DEL
-- A section whose version or tombstone no longer matches writes nothing:
-- an erasure deletes the version, so the tombstone is what tells a writer
-- that loaded before it.
-- Returns per section 1 (written) or 0 (changed since read: read again).
local call, out, a = redis.call, {}, 2
for s = 1, tonumber(ARGV[1]) do
  local key, expected, n = KEYS[tonumber(ARGV[a])], ARGV[a + 1], tonumber(ARGV[a + 5])
  local ok = (call('HGET', key, 'v') or '0') == expected and
    (call('HGET', KEYS[tonumber(ARGV[a + 2])], ARGV[a + 3]) or '') == ARGV[a + 4]
  a = a + 6
  out[s] = ok and 1 or 0
  if ok then
    for i = a, a + 4 * (n - 1), 4 do
      local code, k, x, y = ARGV[i], KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2], ARGV[i + 3]
      if code == 'H' then call('HSET', k, x, y)
      elseif code == 'Z' then call('ZADD', k, x, y)
      elseif code == 'R' then call('ZREM', k, x)
      elseif code == 'I' then
        if call('HINCRBY', k, x, y) == 0 then call('HDEL', k, x) end
      elseif code == 'T' then call('ZREMRANGEBYSCORE', k, '-inf', x)
      elseif code == 'P' then call('PEXPIRE', k, x)
      elseif code == 'D' then call('DEL', k)
      else return redis.error_reply('unknown op ' .. code) end
    end
  end
  a = a + 4 * n
end
return out
