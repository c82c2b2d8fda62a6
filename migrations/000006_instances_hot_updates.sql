-- Every stats sample updates its container's instances row (cpu_percent, memory_percent,
-- memory_usage_bytes, stats_at). None of those columns is indexed, so with free space on the page
-- PostgreSQL can make these heap-only (HOT) updates that touch none of the table's nine indexes.
-- Leave room on each page for them. (updated_at, which is indexed, tracks lifecycle changes only.)
ALTER TABLE instances SET (fillfactor = 70);
