// `npm run sim`: runs the simulator as a process. SIM_PORT (default 8081), SIM_HOST (default 127.0.0.1).
import { startSimulator } from './server';

const port = Number(process.env.SIM_PORT ?? 8081);
const host = process.env.SIM_HOST ?? '127.0.0.1';
const sim = await startSimulator({ port, host });
console.log(
  `Telegram Bot API simulator listening on ${sim.url} (Bot API: ${sim.apiRoot}/bot<token>/<method>, control: ${sim.url}/sim/...)`,
);

const shutdown = () => {
  sim.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
