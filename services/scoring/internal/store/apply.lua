-- Applies one scored feedback event to a tenant's scoring state, exactly
-- once: the guard key records the event id in the same atomic step, so a
-- redelivered event changes nothing. Every update is order-insensitive
-- (sums, counts, a max by time), so events may arrive in any order.
--
-- KEYS[1] guard: the event id, kept for ARGV[1] seconds
-- KEYS[2] the customer's hash
-- KEYS[3] the hour bucket, KEYS[4] the day bucket
-- ARGV[2] event time, ms since the epoch     ARGV[3] experience score
-- ARGV[4] half-life, ms                      ARGV[5] trend half-life, ms
-- ARGV[6] NPS class counter ("" for none)    ARGV[7] "1" for a complaint
-- ARGV[8] event id                           ARGV[9] the event's scores (protobuf)
-- ARGV[10] bucket field (group)              ARGV[11] the event's counters
-- ARGV[12], ARGV[13] hour and day bucket expiry (unix s; "0": past retention)
-- Returns {1 when the event was applied before, else 0; the customer hash}.
local cust = KEYS[2]
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return {1, redis.call('HGETALL', cust)}
end

local function num(v) return string.format('%.17g', v) end

-- Time-decayed means: Σw·x and Σw with w = 2^((t − t0) / half-life). The
-- mean does not depend on t0, so t0 is the customer's first event time,
-- moved forward when the weights would grow past float range.
local t, x = tonumber(ARGV[2]), tonumber(ARGV[3])
local half, fast = tonumber(ARGV[4]), tonumber(ARGV[5])
local t0 = tonumber(redis.call('HGET', cust, 't0'))
if not t0 then
  t0 = t
  redis.call('HSET', cust, 't0', num(t0))
elseif (t - t0) / fast > 256 then
  local slow_f, fast_f = 2 ^ (-(t - t0) / half), 2 ^ (-(t - t0) / fast)
  local v = redis.call('HMGET', cust, 'sum', 'weight', 'fast_sum', 'fast_weight')
  redis.call('HSET', cust, 't0', num(t),
    'sum', num(tonumber(v[1]) * slow_f), 'weight', num(tonumber(v[2]) * slow_f),
    'fast_sum', num(tonumber(v[3]) * fast_f), 'fast_weight', num(tonumber(v[4]) * fast_f))
  t0 = t
end
local w, wf = 2 ^ ((t - t0) / half), 2 ^ ((t - t0) / fast)
redis.call('HINCRBYFLOAT', cust, 'sum', num(w * x))
redis.call('HINCRBYFLOAT', cust, 'weight', num(w))
redis.call('HINCRBYFLOAT', cust, 'fast_sum', num(wf * x))
redis.call('HINCRBYFLOAT', cust, 'fast_weight', num(wf))

redis.call('HINCRBY', cust, 'feedback', 1)
if ARGV[6] ~= '' then redis.call('HINCRBY', cust, ARGV[6], 1) end
if ARGV[7] == '1' then redis.call('HINCRBY', cust, 'complaints', 1) end

-- The latest event by time (ties: the larger id) keeps its scores.
local last = redis.call('HMGET', cust, 'last_ms', 'last_id')
local last_ms = tonumber(last[1])
if not last_ms or t > last_ms or (t == last_ms and ARGV[8] > last[2]) then
  redis.call('HSET', cust, 'last_ms', string.format('%d', t), 'last_id', ARGV[8], 'last_scores', ARGV[9])
end

-- Buckets: one field per group holding the counters, comma-separated.
local function bump(key, expire_at)
  if expire_at == '0' then return end
  local sum, i = {}, 1
  for v in string.gmatch(ARGV[11], '[^,]+') do sum[i] = tonumber(v); i = i + 1 end
  local cur = redis.call('HGET', key, ARGV[10])
  if cur then
    i = 1
    for v in string.gmatch(cur, '[^,]+') do sum[i] = (sum[i] or 0) + tonumber(v); i = i + 1 end
  end
  for j = 1, #sum do sum[j] = string.format('%d', sum[j]) end
  redis.call('HSET', key, ARGV[10], table.concat(sum, ','))
  redis.call('EXPIREAT', key, expire_at)
end
bump(KEYS[3], ARGV[12])
bump(KEYS[4], ARGV[13])

return {0, redis.call('HGETALL', cust)}
