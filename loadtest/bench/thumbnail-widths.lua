-- wrk script of the thumbnail benchmarks: every 50 ms a random ?width= from 16 to 1920, so
-- nearly every request misses the cache (the worst case: the decoder at its rate cap).
local counter = 0
function setup(thread) thread:set("id", counter); counter = counter + 1 end
function init() math.randomseed(os.time() + id) end
function delay() return 50 end
function request()
  return wrk.format("GET", wrk.path .. "?width=" .. math.random(16, 1920))
end
