-- Housekeeping of the worker's own history tables (the retention job, src/scheduler/retention.ts).
-- job_runs took a row per run for ever (about 1,540 a day with the default schedules, 560k a year)
-- and ingest_dead_letters a row per dead letter (a bad producer can send millions). Retention now
-- deletes finished runs older than RETENTION_JOB_RUNS_DAYS, always keeping each job's newest
-- finished run, and dead-letter records older than RETENTION_DEAD_LETTERS_DAYS.
--
-- A retry points at the run it retries (retry_of): an old run goes even when its retry is kept, and
-- the retry then says "retry of a run no longer kept" (NULL) instead of making the DELETE fail.
ALTER TABLE job_runs
    DROP CONSTRAINT job_runs_retry_of_fkey,
    ADD CONSTRAINT job_runs_retry_of_fkey FOREIGN KEY (retry_of) REFERENCES job_runs(id) ON DELETE SET NULL;

-- Each deleted run makes PostgreSQL look for the rows that reference it (the ON DELETE SET NULL of
-- job_runs.retry_of and archive_ledger.run_id); without an index on the referencing column that is
-- a scan of the table per deleted row: a first prune of a year of runs (500k rows) did not finish in
-- ten minutes, and takes seconds with these.
CREATE INDEX job_runs_retry_of ON job_runs (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX archive_ledger_run_id ON archive_ledger (run_id) WHERE run_id IS NOT NULL;

-- What the deletes look for. The dead_at index also serves `status`'s "dead letters in the last hour".
CREATE INDEX job_runs_finished ON job_runs (finished_at) WHERE status IN ('succeeded', 'failed');
CREATE INDEX ingest_dead_letters_dead_at ON ingest_dead_letters (dead_at);
