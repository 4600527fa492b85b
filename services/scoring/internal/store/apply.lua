-- Applies a batch of one tenant's scored feedback events to its scoring
-- state, each exactly once: an event's guard key records its id in the same
-- atomic step as its updates, so a redelivered event changes nothing. Every
-- update is order-insensitive (sums, counts, a max by time), so events may
-- arrive in any order and in any batch.
--
-- Lua in Redis is slow (each redis.call and each number formatted costs
-- about a microsecond), so each customer is read once and written once per
-- event, and the bucket counters of the batch's new events are summed
-- first and written once per bucket and group.
--
-- KEYS: n guards, then n customer hashes, then the buckets the events use.
-- ARGV[1] n                     ARGV[2] guard TTL, s
-- ARGV[3] half-life, ms         ARGV[4] trend half-life, ms
-- ARGV[5 .. 4+b] the expiry (unix s) of each of the b bucket keys
-- then 10 per event: time (ms since the epoch), experience score, NPS class
--   (the index of its counter in names: 7, 8, 9; 0 for none), "1" for a
--   complaint, event id, scores (protobuf), bucket field (group), counters
--   (int64 LE each), hour and day bucket (index among the bucket keys; 0:
--   past retention).
-- Returns, per event, {1 when it was applied before, else 0; the customer's
-- values in the order of names (false where unset)}.
local names = {'t0', 'sum', 'weight', 'fast_sum', 'fast_weight', 'feedback', 'promoters', 'passives',
  'detractors', 'complaints', 'last_ms', 'last_id', 'last_scores'}
local n = tonumber(ARGV[1])
local ttl, half, fast = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n_buckets = #KEYS - 2 * n
local format, call = string.format, redis.call

-- apply updates customer key with the event whose arguments start at a, and
-- returns the customer's values.
local function apply(key, a)
  local v = call('HMGET', key, unpack(names))
  -- Time-decayed means: Σw·x and Σw with w = 2^((t − t0) / half-life). The
  -- mean does not depend on t0, so t0 is the customer's first event time,
  -- moved forward when the weights would grow past float range.
  local t, x = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local t0 = tonumber(v[1]) or t
  local sum, weight = tonumber(v[2]) or 0, tonumber(v[3]) or 0
  local fast_sum, fast_weight = tonumber(v[4]) or 0, tonumber(v[5]) or 0
  if (t - t0) / fast > 256 then
    local slow_f, fast_f = 2 ^ (-(t - t0) / half), 2 ^ (-(t - t0) / fast)
    sum, weight, fast_sum, fast_weight = sum * slow_f, weight * slow_f, fast_sum * fast_f, fast_weight * fast_f
    t0 = t
  end
  local w, wf = 2 ^ ((t - t0) / half), 2 ^ ((t - t0) / fast)
  v[1] = format('%d', t0)
  v[2], v[3] = format('%.17g', sum + w * x), format('%.17g', weight + w)
  v[4], v[5] = format('%.17g', fast_sum + wf * x), format('%.17g', fast_weight + wf)
  v[6] = tostring((tonumber(v[6]) or 0) + 1)
  local changed = {'t0', v[1], 'sum', v[2], 'weight', v[3], 'fast_sum', v[4], 'fast_weight', v[5], 'feedback', v[6]}
  local class = tonumber(ARGV[a + 2])
  if class > 0 then
    v[class] = tostring((tonumber(v[class]) or 0) + 1)
    changed[#changed + 1], changed[#changed + 2] = names[class], v[class]
  end
  if ARGV[a + 3] == '1' then
    v[10] = tostring((tonumber(v[10]) or 0) + 1)
    changed[#changed + 1], changed[#changed + 2] = 'complaints', v[10]
  end
  -- The latest event by time (ties: the larger id) keeps its scores.
  local last_ms, id = tonumber(v[11]), ARGV[a + 4]
  if not last_ms or t > last_ms or (t == last_ms and id > v[12]) then
    v[11], v[12], v[13] = ARGV[a], id, ARGV[a + 5]
    changed[#changed + 1], changed[#changed + 2] = 'last_ms', v[11]
    changed[#changed + 1], changed[#changed + 2] = 'last_id', v[12]
    changed[#changed + 1], changed[#changed + 2] = 'last_scores', v[13]
  end
  call('HSET', key, unpack(changed))
  return v
end

local function layout(bytes) return '<' .. string.rep('i8', #bytes / 8) end

-- Bucket counters of the new events, summed per bucket and group.
local totals, order = {}, {}
local function add(bucket, field, inc, n_inc)
  local k = bucket .. ' ' .. field
  local total = totals[k]
  if not total then
    total = {bucket = bucket, field = field, c = {}}
    totals[k] = total
    order[#order + 1] = total
  end
  local c = total.c
  for i = 1, n_inc do c[i] = (c[i] or 0) + inc[i] end
end

local out = {}
for i = 1, n do
  local a = 5 + n_buckets + (i - 1) * 10
  if call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    out[i] = {0, apply(KEYS[n + i], a)}
    local packed = ARGV[a + 7]
    local inc = {struct.unpack(layout(packed), packed)}
    for _, bucket in ipairs({tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])}) do
      if bucket > 0 then
        add(bucket, ARGV[a + 6], inc, #packed / 8)
        add(bucket, '*', inc, #packed / 8) -- all groups: what most reports read
      end
    end
  else
    out[i] = {1, call('HMGET', KEYS[n + i], unpack(names))}
  end
end

-- One field per group holds its counters (rollup.Counts.Encode), and the
-- field "*" the bucket's total.
for _, total in ipairs(order) do
  local key, c = KEYS[2 * n + total.bucket], total.c
  local cur = call('HGET', key, total.field)
  if cur then
    local old = {struct.unpack(layout(cur), cur)}
    for i = 1, #cur / 8 do c[i] = (c[i] or 0) + old[i] end
  end
  -- A new field is the first event of its group in the bucket (and maybe
  -- of the bucket): that is when the expiry must be set.
  if call('HSET', key, total.field, struct.pack('<' .. string.rep('i8', #c), unpack(c))) == 1 then
    call('EXPIREAT', key, ARGV[4 + total.bucket])
  end
end
return out
