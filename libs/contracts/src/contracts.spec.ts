import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { ErrorCode } from '@model-persistence/errors';
import { allJsonSchemas, createEvent, decodeEvent, parseEvent } from './index';

const schemaDir = join(__dirname, '..', 'schemas');

// The exact shape other systems are told to produce (README "Producing a RefreshRequested").
const documentedRequest = {
  type: 'RefreshRequested',
  version: 1,
  eventId: '2f1b9f5e-8c1d-4a55-9f3e-0e6a1c7b2d11',
  occurredAt: '2026-11-29T12:00:00.000Z',
  databaseId: 7,
  cardId: 42,
  trigger: 'external',
  requestedBy: 'etl-pipeline',
};

const malformedRequests: [string, unknown][] = [
  ['missing databaseId', { ...documentedRequest, databaseId: undefined }],
  ['string databaseId', { ...documentedRequest, databaseId: '7' }],
  ['negative databaseId', { ...documentedRequest, databaseId: -1 }],
  ['fractional cardId', { ...documentedRequest, cardId: 1.5 }],
  ['unknown trigger', { ...documentedRequest, trigger: 'cron' }],
  ['bad eventId', { ...documentedRequest, eventId: 'not-a-uuid' }],
  ['bad occurredAt', { ...documentedRequest, occurredAt: 'yesterday' }],
  ['unknown field', { ...documentedRequest, sql: 'drop table x' }],
  ['huge requestedBy', { ...documentedRequest, requestedBy: 'x'.repeat(1_000_000) }],
];

function ajv() {
  const a = new Ajv2020({ allErrors: true, strict: false });
  addFormats(a);
  return a;
}

describe('contracts', () => {
  it('accepts the documented RefreshRequested', () => {
    expect(parseEvent(documentedRequest)).toEqual({ ok: true, event: documentedRequest });
    const { cardId: _c, requestedBy: _r, ...minimal } = documentedRequest;
    expect(parseEvent(minimal).ok).toBe(true);
  });

  it.each(malformedRequests)('rejects a RefreshRequested with %s', (_name, value) => {
    const r = parseEvent(JSON.parse(JSON.stringify(value)));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/invalid RefreshRequested v1/);
  });

  it('explains bad JSON, unknown types and unknown versions', () => {
    expect(decodeEvent(Buffer.from('{not json'))).toMatchObject({ ok: false, reason: /not valid JSON/ });
    expect(decodeEvent(null)).toMatchObject({ ok: false, reason: /empty/ });
    expect(parseEvent({ ...documentedRequest, type: 'Nope' })).toMatchObject({
      ok: false,
      reason: /unknown or missing "type"/,
    });
    expect(parseEvent({ ...documentedRequest, version: 2 })).toMatchObject({
      ok: false,
      code: ErrorCode.UnsupportedVersion,
      reason: /unsupported version 2 of RefreshRequested; supported: 1/,
    });
    expect(parseEvent([1, 2])).toMatchObject({ ok: false, reason: /JSON object/ });
  });

  it('creates valid events and refuses invalid ones', () => {
    const e = createEvent('RefreshRequested', { databaseId: 3, trigger: 'manual' });
    expect(e.type).toBe('RefreshRequested');
    expect(e.version).toBe(1);
    expect(parseEvent(e).ok).toBe(true);
    expect(() => createEvent('RefreshRequested', { databaseId: 0, trigger: 'manual' })).toThrow(
      /refusing to publish/,
    );
  });

  it('ships JSON Schema files that match the source (run `npm run schemas` when this fails)', () => {
    const generated = allJsonSchemas();
    const shipped = readdirSync(schemaDir)
      .filter((f) => f.endsWith('.schema.json'))
      .sort();
    expect(shipped).toEqual(Object.keys(generated).sort());
    for (const f of shipped) {
      expect(JSON.parse(readFileSync(join(schemaDir, f), 'utf8'))).toEqual(generated[f]);
    }
  });

  it('JSON Schema validates the documented example and rejects the malformed ones', () => {
    const schema = JSON.parse(readFileSync(join(schemaDir, 'RefreshRequested.v1.schema.json'), 'utf8'));
    const validate = ajv().compile(schema);
    expect(validate(documentedRequest)).toBe(true);
    for (const [name, value] of malformedRequests) {
      const ok = validate(JSON.parse(JSON.stringify(value)));
      if (ok) throw new Error(`JSON Schema accepted malformed request: ${name}`);
    }
  });

  it('JSON Schemas accept events the library creates, for every type', () => {
    const a = ajv();
    const runId = '2f1b9f5e-8c1d-4a55-9f3e-0e6a1c7b2d11';
    const now = new Date().toISOString();
    const samples = [
      createEvent('RefreshSucceeded', {
        runId,
        databaseId: 1,
        cardId: 2,
        persistedInfoId: 3,
        trigger: 'scheduled',
        startedAt: now,
        endedAt: now,
        durationMs: 5,
        attempts: 1,
        schemaName: 's',
        tableName: 't',
        rows: 10,
      }),
      createEvent('RefreshFailed', {
        runId,
        databaseId: 1,
        cardId: 2,
        persistedInfoId: null,
        trigger: 'manual',
        startedAt: now,
        endedAt: now,
        durationMs: 5,
        attempts: 1,
        outcome: 'error',
        errorClass: 'query',
        errorCode: 'SOURCE_QUERY',
        message: 'boom',
      }),
      createEvent('RefreshRunCompleted', {
        runId,
        databaseId: 1,
        trigger: 'scheduled',
        startedAt: now,
        endedAt: now,
        durationMs: 1,
        success: 1,
        error: 1,
        skipped: 0,
        errorDetails: [{ persistedInfoId: 3, cardId: 2, error: 'boom' }],
      }),
      createEvent('PruneRequested', { trigger: 'scheduled' }),
      createEvent('DeadLetter', {
        source: { topic: 't', partition: 0, offset: '5', key: null, consumerGroup: 'g' },
        reason: 'bad',
        errorCode: 'MALFORMED_MESSAGE',
        payloadBase64: null,
      }),
    ];
    for (const s of samples) {
      const schema = JSON.parse(readFileSync(join(schemaDir, `${s.type}.v1.schema.json`), 'utf8'));
      expect(a.compile(schema)(s)).toBe(true);
    }
  });
});

describe('composeEvent', () => {
  it('builds what createEvent builds, without validating it (EventPublisher validates before sending)', async () => {
    const { composeEvent, createEvent, parseEvent } = await import('./validate');
    const body = {
      databaseId: 1,
      trigger: 'manual' as const,
      eventId: '6f1c2f0e-8d7b-4c59-9f3e-2b8f1a4c5d6e',
      occurredAt: new Date().toISOString(),
    };
    const composed = composeEvent('RefreshRequested', body);
    expect(composed).toEqual(createEvent('RefreshRequested', body));
    expect(parseEvent(composed).ok).toBe(true);
    // an invalid body is not refused here: the publisher's check is what keeps it off the topic
    expect(() => composeEvent('RefreshRequested', { ...body, databaseId: -1 })).not.toThrow();
    expect(() => createEvent('RefreshRequested', { ...body, databaseId: -1 })).toThrow();
  });
});
