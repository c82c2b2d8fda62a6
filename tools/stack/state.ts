// The stack's state file (<root>/state.json) and the last ports used (<root>/ports.json).
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3State } from './s3proxy.ts';

export interface KafkaState { pid: number; port: number; controllerPort: number; brokers: string }
export interface PostgresState { pid: number; port: number; url: string }
export interface StackState { kafka?: KafkaState; postgres?: PostgresState; s3?: S3State }
export interface LastPorts { kafka?: number; controller?: number; postgres?: number; s3?: number }

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

export const readState = (root: string) => readJson<StackState>(join(root, 'state.json')).then((s) => s ?? {});
export const writeState = async (root: string, s: StackState) => {
  await mkdir(root, { recursive: true });
  await writeJson(join(root, 'state.json'), s);
};
export const removeState = (root: string) => rm(join(root, 'state.json'), { force: true });
export const readPorts = (root: string) => readJson<LastPorts>(join(root, 'ports.json')).then((p) => p ?? {});
export const writePorts = async (root: string, p: LastPorts) => writeJson(join(root, 'ports.json'), { ...(await readPorts(root)), ...p });
