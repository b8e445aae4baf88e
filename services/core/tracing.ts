import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

/**
 * Optional OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: a trace follows an update
 * from the poll that read it, through the queue (its context travels in the job data), to the worker's
 * Telegram calls and the write of its decision. Without an endpoint every call below is a no-op.
 */
export async function startTracing(
  endpoint: string | undefined,
  serviceName: string,
): Promise<(() => Promise<void>) | undefined> {
  if (!endpoint) return undefined;
  // The SDK and exporter (~20 MB, ~0.5 s to load) only where tracing is on; the API above is a no-op without them.
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] =
    await Promise.all([
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/sdk-trace-node'),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }), {
        scheduledDelayMillis: 1_000,
      }),
    ],
  });
  // Sets the global tracer, the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  return () => provider.shutdown();
}

export const tracer = trace.getTracer('nezuko');

/** The active trace context as a small carrier (`traceparent`) for job data; empty when not tracing. */
export function traceCarrier(): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? carrier : undefined;
}

/** Runs `fn` in a span; errors mark the span and propagate. */
export function inSpan<T>(
  name: string,
  kind: SpanKind,
  fn: (span: Span) => Promise<T>,
  carrier?: Record<string, string>,
): Promise<T> {
  const parent = carrier ? propagation.extract(context.active(), carrier) : context.active();
  return tracer.startActiveSpan(name, { kind }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'error' });
      throw err;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
