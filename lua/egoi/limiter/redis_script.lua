-- egoi.limiter.redis_script - the server-side Lua script of the Redis rate limiter, as text.
--
-- One copy, loaded with SCRIPT LOAD and run with EVALSHA by both clients of
-- egoi.limiter.redis (hiredis through egoi.core, ngx cosockets inside nginx).
--
--   EVALSHA <sha> 2 <stamps key> <meta key> <op> <calls> <window> <arg> <keep calls> <keep window>
--
-- KEYS[1] (sorted set): the account's recent call times; member = a slot
-- number, score = the call's stamp in microseconds of Redis' own clock (TIME).
-- KEYS[2] (hash): win / calls = the longest window and the largest budget any
-- client has used (history is kept for them, so a client with a short window
-- never trims what one with a longer window still needs); seq = the last slot
-- number; block / bdur = no reservation before this time, and for how long
-- that was asked; fill = when the window was marked full (it then counts as
-- `calls` stamps at that time, for every client's own calls and window).
--
-- <keep calls>/<keep window> are the least history kept whatever the budgets
-- (the account's own 150 per 3600 s by default), so a client that joins later
-- with a larger budget than those seen so far still finds the calls it needs.
--
-- Each client passes its own budget (calls per window seconds) and applies it
-- to the shared history: admitted when fewer than `calls` stamps are younger
-- than `window`, i.e. when the calls-th newest stamp is at least a window old.
--
-- ops and replies (times in whole microseconds):
--   reserve            -> {1, slot} | {0, wait_us}
--   commit <slot>      -> {1, moved (0|1)}     the slot's stamp moves to now
--   status             -> {used, remaining, reset_in_us}
--   fill               -> {1}                  the window is full from now
--   block <seconds>    -> {1}                  nothing admitted before now + seconds
--
-- Stamps later than now (Redis' clock went back) are clamped to now. Every
-- write sets both keys to expire a window (the longest seen) after it, so an
-- account's keys vanish after a window of silence.
return [=[
if redis.replicate_commands then redis.replicate_commands() end
local zk, mk = KEYS[1], KEYS[2]
local op = ARGV[1]
local calls = math.floor(tonumber(ARGV[2]))
local win = math.floor(tonumber(ARGV[3]) * 1000000 + 0.5)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local m = redis.call('HMGET', mk, 'win', 'calls', 'block', 'bdur', 'seq', 'fill')
local maxwin = math.max(tonumber(m[1]) or 0, win, math.floor((tonumber(ARGV[6]) or 0) * 1000000 + 0.5))
local maxcalls = math.max(tonumber(m[2]) or 0, calls, math.floor(tonumber(ARGV[5]) or 0))
local block, bdur = tonumber(m[3]) or 0, tonumber(m[4]) or 0
local fill = tonumber(m[6]) or 0
redis.call('ZCARD', zk) -- a key of the wrong type fails here, before any write

local function fmt(n) return string.format('%.0f', n) end

local function keep()
  -- the stamps nobody needs any more: older than the longest window, or past
  -- the largest budget's count (only the newest `calls` matter to anyone)
  redis.call('ZREMRANGEBYSCORE', zk, '-inf', fmt(now - maxwin))
  redis.call('ZREMRANGEBYRANK', zk, 0, -(maxcalls + 1))
  redis.call('HSET', mk, 'win', fmt(maxwin), 'calls', fmt(maxcalls))
  local ttl = maxwin
  if block - now > ttl then ttl = block - now end
  ttl = math.floor(ttl / 1000) + 1000
  redis.call('PEXPIRE', zk, ttl)
  redis.call('PEXPIRE', mk, ttl)
end

-- Redis' clock went back: clamp later stamps (and the block) down to now.
local future = redis.call('ZRANGEBYSCORE', zk, '(' .. fmt(now), '+inf')
for i = 1, #future do redis.call('ZADD', zk, fmt(now), future[i]) end
if block > now + bdur then
  block = now + bdur
  redis.call('HSET', mk, 'block', fmt(block))
end
if fill > now then
  fill = now
  redis.call('HSET', mk, 'fill', fmt(fill))
end

-- microseconds until the calls-th newest stamp is a window old (0: admitted now); a fill
-- counts as `calls` stamps at its time, whatever the budget
local function wait_us()
  if fill > 0 and now - fill < win then return fill + win - now end
  local kth = redis.call('ZREVRANGE', zk, calls - 1, calls - 1, 'WITHSCORES')
  if kth[2] then
    local w = tonumber(kth[2]) + win - now
    if w > 0 then return w end
  end
  return 0
end

if op == 'reserve' then
  if now < block then return {0, block - now} end
  local w = wait_us()
  if w > 0 then return {0, w} end
  local seq = tonumber(m[5])
  if not seq then
    -- a new (or restarted) store: numbers after any handed out before
    redis.call('HSET', mk, 'seq', fmt(now))
  end
  seq = redis.call('HINCRBY', mk, 'seq', 1)
  redis.call('ZADD', zk, fmt(now), fmt(seq))
  keep()
  return {1, seq}
elseif op == 'commit' then
  local member = fmt(tonumber(ARGV[4]))
  local sc = tonumber(redis.call('ZSCORE', zk, member))
  local moved = 0
  if sc and sc < now then
    redis.call('ZADD', zk, fmt(now), member)
    moved = 1
  end
  if sc then keep() end
  return {1, moved}
elseif op == 'status' then
  local used = redis.call('ZCOUNT', zk, '(' .. fmt(now - win), '+inf')
  if used > calls or (fill > 0 and now - fill < win) then used = calls end
  local reset = 0
  if used >= calls then reset = wait_us() end
  if now < block then
    used = calls
    if block - now > reset then reset = block - now end
  end
  return {used, calls - used, reset}
elseif op == 'fill' then
  redis.call('HSET', mk, 'fill', fmt(now))
  keep()
  return {1}
elseif op == 'block' then
  local d = math.floor(tonumber(ARGV[4]) * 1000000 + 0.5)
  if d > 0 and now + d > block then
    block, bdur = now + d, d
    redis.call('HSET', mk, 'block', fmt(block), 'bdur', fmt(bdur))
  end
  keep()
  return {1}
end
return redis.error_reply('ERR egoi limiter script: unknown op ' .. tostring(op))
]=]
