/**
 * The process an export is written in (started by `writeExportFileInChild`): it loads only what writing the file
 * needs (pg, csv-stringify, zlib; no Prisma, BullMQ or Redis), so its memory is the export's own and does not add
 * to the maintenance process. It says it is ready, receives one ExportFileSpec over IPC, reports progress, and
 * answers with the file or the error, then exits. SIGTERM or the parent going away aborts it (the partial file is removed).
 */
import { readFileSync } from 'node:fs';
import { exportFailureReason, writeExportFile, type ExportFileSpec } from './export-writer';

export type ExportProcessMessage =
  | { type: 'ready' }
  | { type: 'progress'; rows: number }
  | { type: 'done'; file: Awaited<ReturnType<typeof writeExportFile>> }
  | { type: 'failed'; error: string; detail: string };

/** Peak resident set size of this process (VmHWM), in MB. */
function peakRssMb(): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    if (kb > 0) return kb / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

const abort = new AbortController();
let writing = false;
// Mid-export: stop, remove the partial file, answer, exit. Before any work: just exit.
const stop = () => (writing ? abort.abort() : process.exit(1));
process.on('SIGTERM', stop);
process.on('disconnect', stop);
const send = (message: ExportProcessMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

process.once('message', async (spec: ExportFileSpec) => {
  writing = true;
  let code = 0;
  const startRssMb = Math.round(peakRssMb());
  const started = performance.now();
  try {
    const file = await writeExportFile(spec, {
      signal: abort.signal,
      onProgress: (rows) => send({ type: 'progress', rows }),
    });
    const stats = { startRssMb, peakRssMb: Math.round(peakRssMb()), writeMs: Math.round(performance.now() - started) };
    await send({ type: 'done', file: { ...file, process: stats } });
  } catch (err) {
    code = 1;
    if (process.connected)
      await send({
        type: 'failed',
        error: exportFailureReason(err),
        detail: err instanceof Error ? err.message : String(err),
      });
  }
  process.exit(code);
});
// Asked for the spec only now: a message that arrived while this module was still loading would be lost.
void send({ type: 'ready' });
