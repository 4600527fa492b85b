-- Conditional writes (see Writes in writes.go): each section applies its
-- operations only when every one of its conditions holds.
--
-- ARGV[1] is the number of sections; each section is
--   condition count, then per condition: key index, hash field, wanted
--   value ("" for absent);
--   op count, then per op four arguments: code, key index, a, b:
--     H key field value   HSET; consecutive ones on one key go as one HSET
--     Z key score member  ZADD            R key member -      ZREM
--     I key field delta   HINCRBY, summed over the sections written and
--                         applied last, the field deleted at 0
--     E key max ttl       when key lives less than ttl ms more: drop the
--                         members scored at most max, expire in 2 * ttl
--     D key - -           DEL
-- Returns per section 1 (written) or 0 (a condition failed: nothing written).
--
-- Fewer calls are cheaper here, and fewer writes make a smaller AOF: every
-- write a script makes is appended to it.
local call, out, a = redis.call, {}, 2
local sums, summed = {}, {} -- increments: key index .. ' ' .. field → {key, field, delta}; in first-seen order
for s = 1, tonumber(ARGV[1]) do
  local ok = true
  local nconds = tonumber(ARGV[a])
  a = a + 1
  for i = a, a + 3 * (nconds - 1), 3 do
    if ok and (call('HGET', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) or '') ~= ARGV[i + 2] then ok = false end
  end
  a = a + 3 * nconds
  local last = a + 1 + 4 * tonumber(ARGV[a])
  a = a + 1
  out[s] = ok and 1 or 0
  while ok and a < last do
    local code, ki, x, y = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    local k = KEYS[tonumber(ki)]
    a = a + 4
    if code == 'H' then
      local fields = {x, y}
      while a < last and ARGV[a] == 'H' and ARGV[a + 1] == ki do
        fields[#fields + 1], fields[#fields + 2] = ARGV[a + 2], ARGV[a + 3]
        a = a + 4
      end
      call('HSET', k, unpack(fields))
    elseif code == 'Z' then call('ZADD', k, x, y)
    elseif code == 'R' then call('ZREM', k, x)
    elseif code == 'I' then
      local id = ki .. ' ' .. x
      local sum = sums[id]
      if not sum then
        sum = {k, x, 0}
        sums[id], summed[#summed + 1] = sum, sum
      end
      sum[3] = sum[3] + tonumber(y)
    elseif code == 'E' then
      local ttl = tonumber(y)
      if call('PTTL', k) < ttl then
        call('ZREMRANGEBYSCORE', k, '-inf', x)
        call('PEXPIRE', k, 2 * ttl)
      end
    elseif code == 'D' then call('DEL', k)
    else return redis.error_reply('unknown op ' .. code) end
  end
  a = last
end
for _, sum in ipairs(summed) do
  local k, field, delta = sum[1], sum[2], sum[3]
  if delta ~= 0 and call('HINCRBY', k, field, string.format('%.0f', delta)) == 0 then call('HDEL', k, field) end
end
return out
