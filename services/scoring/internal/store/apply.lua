-- Applies a batch of one tenant's scored feedback events to its scoring
-- state, each exactly once: an event's guard key records its id in the same
-- atomic step as its updates, so a redelivered event changes nothing. Every
-- update is order-insensitive (sums, counts, a max by time), so events may
-- arrive in any order and in any batch.
--
-- Redis does not undo a script that fails halfway, so the script first
-- reads and checks everything and computes the new values, and only then
-- writes. An event whose customer state cannot be read fails alone (code 2)
-- and changes nothing.
--
-- Lua in Redis is slow (each redis.call, each value and each number
-- formatted costs about a microsecond), so a customer's numbers are one
-- packed field, read and written once per batch, and the bucket counters of
-- the batch's new events are summed first and written once per bucket.
--
-- KEYS: n guards, then n customer hashes, then the buckets the events use.
-- ARGV[1] n                     ARGV[2] guard TTL, s
-- ARGV[3] half-life, ms         ARGV[4] trend half-life, ms
-- ARGV[5 .. 4+b] the expiry (unix s) of each of the b bucket keys
-- then 10 per event: time (ms since the epoch), experience score, NPS class
--   (1 promoter, 2 passive, 3 detractor, 0 none), "1" for a complaint,
--   event id, scores (protobuf), bucket field (group), counters (int64 LE
--   each), hour and day bucket (index among the bucket keys; 0: past
--   retention).
-- Returns, per event, {0 applied | 1 applied before, {the customer's state
-- after it, the latest event id}} or {2, reason}.
local n = tonumber(ARGV[1])
local ttl, half, fast = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n_buckets = #KEYS - 2 * n
local call = redis.call

-- A customer's numbers live in one field, packed (parseCustomer in store.go
-- reads it): t0, Σw·x, Σw, the same two with the trend half-life, then the
-- feedback, promoter, passive, detractor and complaint counts and the latest
-- event's time. The latest event's id and scores are fields of their own.
local STATE, STATE_SIZE = '<i8ddddi8i8i8i8i8i8', 88

local function layout(bytes) return '<' .. string.rep('i8', #bytes / 8) end

-- Customers as read, then as updated by the batch's events so far.
local customers = {}
local function customer(key)
  local c = customers[key]
  if c then return c end
  local v = call('HMGET', key, 'state', 'last_id')
  c = {key = key, last_id = v[2]}
  if v[1] then
    if #v[1] ~= STATE_SIZE then
      c.err = 'customer ' .. key .. ': state of ' .. #v[1] .. ' bytes, want ' .. STATE_SIZE
    else
      c.t0, c.sum, c.weight, c.fast_sum, c.fast_weight, c.feedback, c.promoters, c.passives, c.detractors,
        c.complaints, c.last_ms = struct.unpack(STATE, v[1])
      c.state = v[1]
    end
  end
  customers[key] = c
  return c
end

-- update applies the event whose arguments start at a to customer c.
local function update(c, a)
  local t, x, id = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), ARGV[a + 4]
  if not c.state then
    c.t0, c.sum, c.weight, c.fast_sum, c.fast_weight = t, 0, 0, 0, 0
    c.feedback, c.promoters, c.passives, c.detractors, c.complaints = 0, 0, 0, 0, 0
  end
  -- Time-decayed means: Σw·x and Σw with w = 2^((t − t0) / half-life). The
  -- mean does not depend on t0, so t0 is the customer's first event time,
  -- moved forward when the weights would grow past float range.
  if (t - c.t0) / fast > 256 then
    local slow_f, fast_f = 2 ^ (-(t - c.t0) / half), 2 ^ (-(t - c.t0) / fast)
    c.sum, c.weight = c.sum * slow_f, c.weight * slow_f
    c.fast_sum, c.fast_weight = c.fast_sum * fast_f, c.fast_weight * fast_f
    c.t0 = t
  end
  local w, wf = 2 ^ ((t - c.t0) / half), 2 ^ ((t - c.t0) / fast)
  c.sum, c.weight, c.fast_sum, c.fast_weight = c.sum + w * x, c.weight + w, c.fast_sum + wf * x, c.fast_weight + wf
  c.feedback = c.feedback + 1
  local class = ARGV[a + 2]
  if class == '1' then c.promoters = c.promoters + 1
  elseif class == '2' then c.passives = c.passives + 1
  elseif class == '3' then c.detractors = c.detractors + 1 end
  if ARGV[a + 3] == '1' then c.complaints = c.complaints + 1 end
  -- The latest event by time (ties: the larger id) keeps its scores.
  if not c.last_ms or t > c.last_ms or (t == c.last_ms and id > c.last_id) then
    c.last_ms, c.last_id, c.last_scores = t, id, ARGV[a + 5]
  end
  c.state = struct.pack(STATE, c.t0, c.sum, c.weight, c.fast_sum, c.fast_weight,
    c.feedback, c.promoters, c.passives, c.detractors, c.complaints, c.last_ms)
  c.dirty = true
end

-- Bucket counters of the new events, summed per bucket and field. nonzero
-- lists the counters an event changes (a handful of the two dozen), so
-- adding it to several sums is cheap.
local buckets = {} -- bucket index → {field name → counters}
local function add(bucket, field, inc, nonzero, n_inc)
  local sums = buckets[bucket]
  if not sums then
    sums = {}
    buckets[bucket] = sums
  end
  local c = sums[field]
  if not c then
    c = {}
    for i = 1, n_inc do c[i] = 0 end
    sums[field] = c
  end
  for _, i in ipairs(nonzero) do c[i] = c[i] + inc[i] end
end

-- Read and compute.
local out, new_guards, seen = {}, {}, {}
for i = 1, n do
  local a = 5 + n_buckets + (i - 1) * 10
  local c = customer(KEYS[n + i])
  if seen[KEYS[i]] or call('EXISTS', KEYS[i]) == 1 then
    out[i] = {1, {c.state or false, c.last_id or false}}
  elseif c.err then
    out[i] = {2, c.err}
  else
    seen[KEYS[i]] = true
    new_guards[#new_guards + 1] = KEYS[i]
    update(c, a)
    out[i] = {0, {c.state, c.last_id}}
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
  end
end

-- One field per group holds its counters (rollup.Counts.Encode); in hour
-- buckets the field "*" holds the total.
local writes = {}
for bucket, sums in pairs(buckets) do
  local key, names = KEYS[2 * n + bucket], {}
  for name in pairs(sums) do names[#names + 1] = name end
  local cur = call('HMGET', key, unpack(names))
  local fields = {}
  for j, name in ipairs(names) do
    local c = sums[name]
    if cur[j] then
      if #cur[j] % 8 ~= 0 then
        return redis.error_reply('bucket ' .. key .. ' field ' .. name .. ': ' .. #cur[j] .. ' bytes')
      end
      local old = {struct.unpack(layout(cur[j]), cur[j])}
      for k = 1, #cur[j] / 8 do c[k] = (c[k] or 0) + old[k] end
    end
    fields[#fields + 1] = name
    fields[#fields + 1] = struct.pack('<' .. string.rep('i8', #c), unpack(c))
  end
  writes[#writes + 1] = {key = key, fields = fields, expire_at = ARGV[4 + bucket]}
end

-- Write.
for _, guard in ipairs(new_guards) do call('SET', guard, '1', 'EX', ttl) end
for _, c in pairs(customers) do
  if c.last_scores then -- a new latest event
    call('HSET', c.key, 'state', c.state, 'last_id', c.last_id, 'last_scores', c.last_scores)
  elseif c.dirty then
    call('HSET', c.key, 'state', c.state)
  end
end
for _, w in ipairs(writes) do
  -- A new field is the first event of its group in the bucket (and maybe
  -- of the bucket): that is when the expiry must be set.
  if call('HSET', w.key, unpack(w.fields)) > 0 then
    call('EXPIREAT', w.key, w.expire_at)
  end
end
return out
