// The Lua scripts behind RedisStore's usage rows and budget counters (run with runScript, as the record scripts are).
import { createHash } from "node:crypto";
import type { RedisScript } from "./redis-scripts.js";

const script = (source: string): RedisScript => ({ source, sha: createHash("sha1").update(source).digest("hex") });

/**
 * KEYS[1] one owner's usage hash for one day; ARGV[1] the row's field stem (JSON of its ids),
 * ARGV[2..4] requests, input and output tokens to add, ARGV[5] "1" when estimated, ARGV[6] when the
 * hash expires (Unix seconds). The row's counts update together, and the hash's expiry with them.
 */
export const ADD_USAGE = script(`
local row = ARGV[1]
redis.call('HINCRBY', KEYS[1], row .. '|r', ARGV[2])
redis.call('HINCRBY', KEYS[1], row .. '|i', ARGV[3])
redis.call('HINCRBY', KEYS[1], row .. '|o', ARGV[4])
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], row .. '|e', '1') end
redis.call('EXPIREAT', KEYS[1], ARGV[6])
return 1`);

/**
 * The server's clock in ms, so instances whose clocks disagree agree on when a reservation expires.
 * Before Redis 5 a script that reads TIME may only write under effects replication, hence the call.
 */
const NOW = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)`;

/**
 * KEYS[i] counter hashes (all of one owner: one slot), each with `spent` and one `r:<id>` field per
 * live reservation holding `<tokens>:<expires at, ms>`. ARGV[1] reservation id, ARGV[2] tokens,
 * ARGV[3] ttl (ms), ARGV[2+2i] counter i's limit, ARGV[3+2i] when it resets (ms; the hash expires
 * then, so the counter starts over). Drops expired reservations, then reserves on every counter if
 * `spent + reserved + tokens <= limit` holds for each and returns -1; else returns `{ index, used }`:
 * the 0-based index of the first counter that would go over and what it holds, reserving nothing.
 */
export const RESERVE = script(`${NOW}
local tokens = tonumber(ARGV[2])
local over, over_used = -1, 0
for i = 1, #KEYS do
  local fields = redis.call('HGETALL', KEYS[i])
  local used = 0
  for j = 1, #fields, 2 do
    local name, value = fields[j], fields[j + 1]
    if name == 'spent' then
      used = used + (tonumber(value) or 0)
    elseif string.sub(name, 1, 2) == 'r:' then
      local sep = string.find(value, ':', 1, true)
      local expires = sep and tonumber(string.sub(value, sep + 1))
      if not expires or expires <= now then
        redis.call('HDEL', KEYS[i], name)
      else
        used = used + (tonumber(string.sub(value, 1, sep - 1)) or 0)
      end
    end
  end
  if over == -1 and used + tokens > tonumber(ARGV[2 + 2 * i]) then over, over_used = i - 1, used end
end
if over ~= -1 then return { over, over_used } end
local reservation = ARGV[2] .. ':' .. string.format('%d', now + tonumber(ARGV[3]))
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], 'r:' .. ARGV[1], reservation)
  redis.call('PEXPIREAT', KEYS[i], ARGV[3 + 2 * i])
end
return -1`);

/**
 * KEYS[i] counter hashes, as for RESERVE; ARGV[1] reservation id, ARGV[2] tokens spent, ARGV[2+i]
 * when counter i resets (ms). Ends the reservation and adds the tokens to `spent` (a reservation
 * already expired is no error), keeping each hash's expiry at its reset.
 */
export const SETTLE = script(`
for i = 1, #KEYS do
  redis.call('HDEL', KEYS[i], 'r:' .. ARGV[1])
  redis.call('HINCRBY', KEYS[i], 'spent', ARGV[2])
  redis.call('PEXPIREAT', KEYS[i], ARGV[2 + i])
end
return 1`);
