// What the HTTP server needs from the rest of the worker.
export interface HealthSource {
  /** Undefined while the consumer is a member of its group in touch with the broker; else why not. */
  consumerProblem(): string | undefined;
  /** Resolves when PostgreSQL answers a query; rejects with the reason otherwise. */
  checkDatabase(): Promise<void>;
  /** Resolves true when every migration on disk is applied and none was edited. */
  migrationsCurrent(): Promise<boolean>;
}
