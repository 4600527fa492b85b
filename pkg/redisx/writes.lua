-- Conditional writes (see Writes in writes.go): each section applies its
-- operations only when every one of its conditions holds.
--
-- ARGV[1] is the number of sections; each section is
--   condition count, then per condition: key index, hash field, wanted
--   value ("" for absent);
--   op count, then per op four arguments: code, key index, a, b:
--     H key field value   HSET            Z key score member  ZADD
--     R key member -      ZREM            I key field delta   HINCRBY, the field deleted at 0
--     T key max -         ZREMRANGEBYSCORE key -inf max
--     P key ms -          PEXPIRE         D key - -           DEL
-- Returns per section 1 (written) or 0 (a condition failed: nothing written).
local call, out, a = redis.call, {}, 2
for s = 1, tonumber(ARGV[1]) do
  local ok = true
  local nconds = tonumber(ARGV[a])
  a = a + 1
  for i = a, a + 3 * (nconds - 1), 3 do
    if ok and (call('HGET', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) or '') ~= ARGV[i + 2] then ok = false end
  end
  a = a + 3 * nconds
  local n = tonumber(ARGV[a])
  a = a + 1
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
