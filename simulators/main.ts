import { parseArgs } from 'node:util';
import { SIMULATORS, startSimulator } from './index.ts';

const USAGE = `Usage: npm run simulators -- <provider> [--port <port>] [--records <n>] [--seed <n>]
Providers: ${Object.keys(SIMULATORS).join(', ')}`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '0' },
    records: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const provider = SIMULATORS[positionals[0] ?? ''];
const numbers = [values.port, values.records, values.seed].map(Number);
if (!provider || numbers.some((n) => !Number.isInteger(n) || n < 0)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const [port, records, seed] = numbers as [number, number, number];
const sim = await startSimulator(provider, { port, records, seed, host: values.host });
process.stdout.write(
  `${provider.name} simulator listening on ${sim.url} (${records} records per object, seed ${seed})\n`,
);
const stop = async () => {
  await sim.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
