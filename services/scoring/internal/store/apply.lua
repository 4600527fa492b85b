-- Applies a batch of one tenant's scored feedback events to its scoring
-- state, each exactly once: an event's guard key records its id in the same
-- atomic step as its updates, so a redelivered event changes nothing. Every
-- update is order-insensitive (sums, counts, a max by time), so events may
-- arrive in any order and in any batch.
--
-- Lua in Redis is slow (each redis.call, each value and each number
-- formatted costs about a microsecond), so a customer's numbers are one
-- packed field, read once and written once per event, and the bucket
-- counters of the batch's new events are summed first and written once per
-- bucket and group.
--
-- KEYS: n guards, then n customer hashes, then the buckets the events use.
-- ARGV[1] n                     ARGV[2] guard TTL, s
-- ARGV[3] half-life, ms         ARGV[4] trend half-life, ms
-- ARGV[5 .. 4+b] the expiry (unix s) of each of the b bucket keys
-- then 10 per event: time (ms since the epoch), experience score, NPS class
--   (1 promoter, 2 passive, 3 detractor, 0 none), "1" for a complaint, event id, scores (protobuf), bucket field (group), counters
--   (int64 LE each), hour and day bucket (index among the bucket keys; 0:
--   past retention).
-- Returns, per event, {1 when it was applied before, else 0; {the
-- customer's state, the latest event id}}.
local n = tonumber(ARGV[1])
local ttl, half, fast = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n_buckets = #KEYS - 2 * n
local call = redis.call

-- A customer's numbers live in one field, packed (Customer in store.go
-- reads it): t0, Σw·x, Σw, the same two with the trend half-life, then the
-- feedback, promoter, passive, detractor and complaint counts and the latest
-- event's time. The latest event's id and scores are fields of their own.
local STATE = '<i8ddddi8i8i8i8i8i8'

-- apply updates customer key with the event whose arguments start at a, and
-- returns {state, latest event id}.
local function apply(key, a)
  local v = call('HMGET', key, 'state', 'last_id')
  local t, x, id = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 4]
  local t0, sum, weight, fast_sum, fast_weight, feedback, promoters, passives, detractors, complaints, last_ms =
    t, 0, 0, 0, 0, 0, 0, 0, 0, 0, nil
  if v[1] then
    t0, sum, weight, fast_sum, fast_weight, feedback, promoters, passives, detractors, complaints, last_ms =
      struct.unpack(STATE, v[1])
  end
  -- Time-decayed means: Σw·x and Σw with w = 2^((t − t0) / half-life). The
  -- mean does not depend on t0, so t0 is the customer's first event time,
  -- moved forward when the weights would grow past float range.
  if (t - t0) / fast > 256 then
    local slow_f, fast_f = 2 ^ (-(t - t0) / half), 2 ^ (-(t - t0) / fast)
    sum, weight, fast_sum, fast_weight = sum * slow_f, weight * slow_f, fast_sum * fast_f, fast_weight * fast_f
    t0 = t
  end
  local w, wf = 2 ^ ((t - t0) / half), 2 ^ ((t - t0) / fast)
  sum, weight, fast_sum, fast_weight = sum + w * x, weight + w, fast_sum + wf * x, fast_weight + wf
  feedback = feedback + 1
  local class = ARGV[a + 2]
  if class == '1' then promoters = promoters + 1
  elseif class == '2' then passives = passives + 1
  elseif class == '3' then detractors = detractors + 1 end
  if ARGV[a + 3] == '1' then complaints = complaints + 1 end
  -- The latest event by time (ties: the larger id) keeps its scores.
  local latest = not last_ms or t > last_ms or (t == last_ms and id > v[2])
  if latest then last_ms = t end
  local state = struct.pack(STATE, t0, sum, weight, fast_sum, fast_weight,
    feedback, promoters, passives, detractors, complaints, last_ms)
  if latest then
    call('HSET', key, 'state', state, 'last_id', id, 'last_scores', ARGV[a + 5])
    return {state, id}
  end
  call('HSET', key, 'state', state)
  return {state, v[2]}
end

local function layout(bytes) return '<' .. string.rep('i8', #bytes / 8) end

-- Bucket counters of the new events, summed per bucket and field.
local fields = {} -- bucket index → {field name → counters}
-- nonzero lists the indexes of the counters an event changes (a handful of
-- the two dozen), so adding it to several sums is cheap.
local function add(bucket, field, inc, nonzero, n_inc)
  local sums = fields[bucket]
  if not sums then
    sums = {}
    fields[bucket] = sums
  end
  local c = sums[field]
  if not c then
    c = {}
    for i = 1, n_inc do c[i] = 0 end
    sums[field] = c
  end
  for _, i in ipairs(nonzero) do c[i] = c[i] + inc[i] end
end

local out = {}
for i = 1, n do
  local a = 5 + n_buckets + (i - 1) * 10
  if call('SET', KEYS[i], '1', 'NX', 'EX', ttl) then
    out[i] = {0, apply(KEYS[n + i], a)}
    local packed = ARGV[a + 7]
    local n_inc = #packed / 8
    local inc, nonzero = {struct.unpack(layout(packed), packed)}, {}
    for j = 1, n_inc do
      if inc[j] ~= 0 then nonzero[#nonzero + 1] = j end
    end
    local hour, day = tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
    if hour > 0 then
      add(hour, ARGV[a + 6], inc, nonzero, n_inc)
      -- The hour's total over all groups: what reports without filters read.
      add(hour, '*', inc, nonzero, n_inc)
    end
    if day > 0 then add(day, ARGV[a + 6], inc, nonzero, n_inc) end
  else
    out[i] = {1, call('HMGET', KEYS[n + i], 'state', 'last_id')}
  end
end

-- One field per group holds its counters (rollup.Counts.Encode); in hour
-- buckets the field "*" holds the total. Each bucket is read once and
-- written once.
for bucket, sums in pairs(fields) do
  local key, names = KEYS[2 * n + bucket], {}
  for name in pairs(sums) do names[#names + 1] = name end
  local cur = call('HMGET', key, unpack(names))
  local writes = {}
  for j, name in ipairs(names) do
    local c = sums[name]
    if cur[j] then
      local old = {struct.unpack(layout(cur[j]), cur[j])}
      for i = 1, #cur[j] / 8 do c[i] = (c[i] or 0) + old[i] end
    end
    writes[#writes + 1] = name
    writes[#writes + 1] = struct.pack('<' .. string.rep('i8', #c), unpack(c))
  end
  -- A new field is the first event of its group in the bucket (and maybe
  -- of the bucket): that is when the expiry must be set.
  if call('HSET', key, unpack(writes)) > 0 then
    call('EXPIREAT', key, ARGV[4 + bucket])
  end
end
return out
