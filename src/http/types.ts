// What the HTTP server needs from the rest of the worker.
export interface HealthSource {
  /** True while the consumer is a member of its group. */
  consumerJoined(): boolean;
  /** Resolves when PostgreSQL answers a query; rejects with the reason otherwise. */
  checkDatabase(): Promise<void>;
  /** Resolves true when every migration on disk is applied and none was edited. */
  migrationsCurrent(): Promise<boolean>;
}
