/**
 * The Kafka broker of the benchmarks, started like the peer tests start theirs (test/peers/kafka, jars
 * cached under $KITE_PEERS_CACHE): `node dist/test/bench/kafka-peer.js DATA_DIR` starts a single-node
 * KRaft broker on 127.0.0.1:$KITE_PEER_KAFKA_PORT (run.sh picks ports apart from the tests'), waits
 * until it serves metadata and prints its pid, the leader of its own process group: stop it with
 * `kill -TERM -- -PID`.
 */
import { KafkaBroker } from '../helpers/peers';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: kafka-peer.js DATA_DIR');
  const broker = new KafkaBroker(dir);
  await broker.start();
  const pid = broker.pid;
  process.stdout.write(`${pid}\n`, () => process.exit(0));
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench] kafka peer failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
