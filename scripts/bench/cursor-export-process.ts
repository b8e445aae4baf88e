/**
 * bench:maintenance's baseline: the previous export writer (cursor + csv-stringify, cursor-export-writer.ts) in a
 * process of its own, speaking export-process.ts' messages, so both writers are measured the same way (request to
 * finished file, peak RSS of the writing process).
 */
import { readFileSync } from 'node:fs';
import type { ExportFileSpec } from '../../services/maintenance/export-writer';
import type { ExportProcessMessage } from '../../services/maintenance/export-process';
import { writeExportFileWithCursor } from './cursor-export-writer';

const peakRssMb = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) / 1024;
const send = (message: ExportProcessMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

process.once('message', async (spec: ExportFileSpec) => {
  const startRssMb = Math.round(peakRssMb());
  const started = performance.now();
  try {
    const file = await writeExportFileWithCursor(spec, { onProgress: (rows) => send({ type: 'progress', rows }) });
    const stats = { startRssMb, peakRssMb: Math.round(peakRssMb()), writeMs: Math.round(performance.now() - started) };
    await send({ type: 'done', file: { ...file, process: stats } });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await send({ type: 'failed', error: message, detail: message });
  }
  process.exit(0);
});
void send({ type: 'ready' });
