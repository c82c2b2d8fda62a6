-- Housekeeping of the worker's own history tables (the retention job, src/scheduler/retention.ts).
-- job_runs took a row per run for ever (about 1,550 a day with the default schedules, 570k a year)
-- and ingest_dead_letters a row per dead letter (a bad producer can send millions). Retention now
-- deletes finished runs older than RETENTION_JOB_RUNS_DAYS, always keeping each job's newest
-- finished run, and dead-letter records older than RETENTION_DEAD_LETTERS_DAYS.
--
-- A retry points at the run it retries (retry_of): an old run goes even when its retry is kept, and
-- the retry then says "retry of a run no longer kept" (NULL) instead of making the DELETE fail.
ALTER TABLE job_runs
    DROP CONSTRAINT job_runs_retry_of_fkey,
    ADD CONSTRAINT job_runs_retry_of_fkey FOREIGN KEY (retry_of) REFERENCES job_runs(id) ON DELETE SET NULL;

-- What the deletes look for. The dead_at index also serves `status`'s "dead letters in the last hour".
CREATE INDEX job_runs_finished ON job_runs (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX ingest_dead_letters_dead_at ON ingest_dead_letters (dead_at);
