// The Prometheus alert rules and scrape configuration: valid for promtool, unit-tested with
// `promtool test rules`, and referring only to metrics the worker exports.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportedMetrics, metricNames, resolveName, ruleExpressions } from './promql.ts';
import { findBinary } from '../helpers/prometheus.ts';

const deploy = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'deploy', 'prometheus');
const alertsFile = join(deploy, 'alerts.yml');
const configFile = join(deploy, 'prometheus.yml');

const INSTALL = 'bash scripts/install-promtool.sh';

// promtool from $PROMTOOL or PATH; this test installs nothing.
const promtool = findBinary('promtool', 'PROMTOOL');
const ci = process.env.CI === 'true' || process.env.CI === '1';
const missing = `promtool is not installed (Debian package "prometheus"); install it with: ${INSTALL}`;
// Under CI a missing promtool fails the suite; on a workstation the promtool tests are skipped with the reason.
const skip = promtool ? false : ci ? false : missing;

function run(args: string[]): string {
  if (!promtool) throw new Error(missing);
  try {
    return execFileSync(promtool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

describe('promtool', () => {
  test('the alert rules pass promtool check rules', { skip }, () => {
    assert.match(run(['check', 'rules', alertsFile]), /SUCCESS: \d+ rules found/);
  });

  test('the scrape configuration passes promtool check config, rule files included', { skip }, () => {
    assert.match(run(['check', 'config', configFile]), /SUCCESS: 1 rule files found/);
  });

  test('the alerts fire when their condition holds long enough, and stay quiet otherwise', { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'promtool-'));
    try {
      const file = join(dir, 'alerts_test.yml');
      writeFileSync(file, unitTests(alertsFile));
      assert.match(run(['test', 'rules', file]), /SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('every metric name in the alert rules is exported by createMetrics()', async () => {
  const exported = await exportedMetrics();
  const exprs = ruleExpressions(readFileSync(alertsFile, 'utf8'));
  assert.ok(exprs.length >= 8, `found ${exprs.length} rule expressions`);
  const used = new Set<string>();
  for (const expr of exprs) {
    for (const name of metricNames(expr)) {
      const resolved = resolveName(name, exported);
      assert.ok(resolved, `rule expression uses ${name}, which the worker does not export:\n${expr}`);
      used.add(resolved);
    }
  }
  for (const name of [
    'orchestry_ingest_consumer_lag_messages',
    'orchestry_ingest_consumer_lag_seconds',
    'orchestry_ingest_dlq_messages_total',
    'orchestry_ingest_last_commit_timestamp_seconds',
    'orchestry_ingest_job_runs_total',
    'orchestry_ingest_ready',
  ]) {
    assert.ok(used.has(name), `an alert watches ${name}`);
  }
});

/** promtool unit tests for the rules (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/). */
function unitTests(rules: string): string {
  const w = 'instance="w1:9464", job="orchestry-ingest"';
  return `rule_files:
  - ${JSON.stringify(rules)}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{${w}}'
        values: '1 1 0x10'
      - series: 'orchestry_ingest_ready{${w}}'
        values: '1 1 0x10'
      - series: 'orchestry_ingest_ready{instance="w2:9464", job="orchestry-ingest"}'
        values: '1x12'
    alert_rule_test:
      - eval_time: 10m
        alertname: OrchestryIngestDown
        exp_alerts:
          - exp_labels: { severity: critical, instance: "w1:9464", job: orchestry-ingest }
            exp_annotations:
              summary: "orchestry-ingest w1:9464 cannot be scraped"
              description: "Prometheus has not reached w1:9464 for 2 minutes: the worker is down or its HTTP port is unreachable."
      - eval_time: 5m
        alertname: OrchestryIngestNotReady
        exp_alerts: []
      - eval_time: 10m
        alertname: OrchestryIngestNotReady
        exp_alerts:
          - exp_labels: { severity: critical, instance: "w1:9464" }
            exp_annotations:
              summary: "orchestry-ingest w1:9464 is not ready"
              description: "A readiness check has failed for 5 minutes. See orchestry_ingest_readiness_check{instance=\\"w1:9464\\"} == 0, or GET /readyz, for which (consumer, database, migrations)."

  - interval: 1m
    input_series:
      # Two replicas report the same partitions; the lag is counted once.
      - series: 'orchestry_ingest_consumer_lag_messages{${w}, topic="stats", partition="0"}'
        values: '1000+100x40'
      - series: 'orchestry_ingest_consumer_lag_messages{instance="w2:9464", job="orchestry-ingest", topic="stats", partition="0"}'
        values: '1000+100x40'
      - series: 'orchestry_ingest_consumer_lag_messages{${w}, topic="lifecycle", partition="0"}'
        values: '5000x40'
      - series: 'orchestry_ingest_last_commit_timestamp_seconds{${w}}'
        values: '0x40'
    alert_rule_test:
      - eval_time: 10m
        alertname: OrchestryIngestLagGrowing
        exp_alerts: []
      - eval_time: 30m
        alertname: OrchestryIngestLagGrowing
        exp_alerts:
          - exp_labels: { severity: warning, topic: stats }
            exp_annotations:
              summary: "Consumer lag on stats has grown for 15 minutes"
              description: "4k messages behind on stats and still growing: the workers do not keep up (throughput, PostgreSQL, or too few replicas)."
      - eval_time: 20m
        alertname: OrchestryIngestNoCommit
        exp_alerts:
          - exp_labels: { severity: critical }
            exp_annotations:
              summary: "No batch committed for 10 minutes while messages wait"
              description: "No replica has committed a batch for over 10 minutes although the lag is above 0: ingestion has stalled (consumer paused on PostgreSQL, stuck batch, or no consumer in the group)."

  - interval: 1m
    input_series:
      # Partition 0 falls behind by a minute each minute; partition 1 keeps up.
      - series: 'orchestry_ingest_consumer_lag_seconds{${w}, topic="stats", partition="0"}'
        values: '0+60x40'
      - series: 'orchestry_ingest_consumer_lag_seconds{instance="w2:9464", job="orchestry-ingest", topic="stats", partition="0"}'
        values: '0+60x40'
      - series: 'orchestry_ingest_consumer_lag_seconds{${w}, topic="stats", partition="1"}'
        values: '2x40'
    alert_rule_test:
      - eval_time: 12m
        alertname: OrchestryIngestBehind
        exp_alerts: []
      - eval_time: 16m
        alertname: OrchestryIngestBehind
        exp_alerts:
          - exp_labels: { severity: warning, topic: stats }
            exp_annotations:
              summary: "Ingestion of stats is 16m 0s behind"
              description: "The oldest unconsumed message on stats was produced 16m 0s ago, for 10 minutes: the tables (and the autoscaler reading them) are stale. See orchestry_ingest_consumer_lag_seconds by partition, or run orchestry-ingest status."

  - interval: 1m
    input_series:
      # Committing every minute, lag 0: nothing fires.
      - series: 'orchestry_ingest_consumer_lag_messages{${w}, topic="stats", partition="0"}'
        values: '0x40'
      - series: 'orchestry_ingest_last_commit_timestamp_seconds{${w}}'
        values: '0+60x40'
      - series: 'orchestry_ingest_dlq_messages_total{${w}, code="E_SCHEMA"}'
        values: '0+120x40'
      - series: 'orchestry_ingest_dlq_messages_total{${w}, code="E_JSON"}'
        values: '0+1x40'
      - series: 'orchestry_ingest_job_runs_total{instance="w1:9464", job="orchestry-ingest", job_name="rollups", status="failed"}'
        values: '0 0 1 1 2 2 3 3x30'
      - series: 'orchestry_ingest_job_runs_total{instance="w1:9464", job="orchestry-ingest", job_name="retention", status="failed"}'
        values: '0 0 1 1 1x30'
      - series: 'orchestry_ingest_lag_last_refresh_timestamp_seconds{${w}}'
        values: '0+60x40'
    alert_rule_test:
      - eval_time: 30m
        alertname: OrchestryIngestNoCommit
        exp_alerts: []
      - eval_time: 30m
        alertname: OrchestryIngestLagGrowing
        exp_alerts: []
      - eval_time: 30m
        alertname: OrchestryIngestLagUnknown
        exp_alerts: []
      - eval_time: 30m
        alertname: OrchestryIngestDlqRateHigh
        exp_alerts:
          - exp_labels: { severity: warning, code: E_SCHEMA }
            exp_annotations:
              summary: "More than 1 message/s dead-lettered with E_SCHEMA"
              description: "2 messages/s go to the DLQ with error code E_SCHEMA: a producer is sending messages that break the contract. Inspect them with the dlq CLI."
      - eval_time: 30m
        alertname: OrchestryIngestJobFailing
        exp_alerts:
          - exp_labels: { severity: warning, job_name: rollups }
            exp_annotations:
              summary: "Scheduler job rollups failed 3 times in the last hour"
              description: "Job rollups keeps failing; its error is in job_runs (CLI: jobs runs --job rollups)."
`;
}
