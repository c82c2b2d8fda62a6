// Idempotent topic creation: creates missing topics and grows ones that have fewer partitions than asked.
import { createLocalKafka } from './client.ts';

export interface TopicSpec { name: string; partitions: number }

/** Creates the topics that do not exist yet; tolerates "already exists". */
export async function ensureTopics(brokers: string[], topics: TopicSpec[], replicationFactor = 1): Promise<void> {
  if (topics.length === 0) return;
  const admin = createLocalKafka(brokers, 'orchestry-topics').admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions, replicationFactor })),
    });
    const { topics: meta } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) });
    const grow = topics.flatMap((t) => {
      const have = meta.find((m) => m.name === t.name)?.partitions.length ?? 0;
      return have < t.partitions ? [{ topic: t.name, count: t.partitions }] : [];
    });
    if (grow.length > 0) await admin.createPartitions({ topicPartitions: grow, validateOnly: false });
  } finally {
    await admin.disconnect();
  }
}
