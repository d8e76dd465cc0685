-- wrk script of the thumbnail benchmarks: every connection asks for the same picture every
-- 50 ms (the realistic case: one decode per keyframe, the rest from the cache).
function delay() return 50 end
