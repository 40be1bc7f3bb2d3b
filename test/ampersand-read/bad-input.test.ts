import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_CONTRACT } from '../../src/api/ampersand-read/openapi.ts';
import { createProject } from '../../src/core/projects.ts';
import { listSyncRuns, listSyncs } from '../../src/core/syncs.ts';
import { expectProblem } from '../helpers/ampersand.ts';
import { type AmpersandData, INTEGRATION, startAmpersandData } from '../helpers/ampersand-data.ts';
import {
  BAD_IDS,
  badApiKeys,
  bodyCases,
  type Document,
  documentOperations,
  type Expected,
  fillPath,
  HOSTILE,
  NUL,
  type Operation,
  type RequestCase,
  sendCases,
  withBody,
} from '../helpers/bad-input.ts';
import { startReceiver } from '../helpers/receiver.ts';
import { until } from '../helpers/wait.ts';

/**
 * Bad input to the Read API (/read/v1), generated from its document for every operation (bodies
 * of the wrong type, required fields left out, enum values it lacks, strings and lists over their
 * limits, broken JSON, other media types) and written for what the document cannot say: bad
 * credentials, unknown projects, integrations, objects, groups and installations, instants that
 * are none, and objects the installation does not read. Every refusal is a 4xx problem+json; it
 * starts no read, so nothing reaches the provider, and pauses nothing. `:deliverResults` answers
 * its 501 to whatever passes authentication and the project check. The pause and unpause bodies
 * are optional: without one, or with an empty one, they are done.
 */

const OPERATIONS = documentOperations(READ_CONTRACT.document as unknown as Document);
const VALID_BODIES: Record<string, unknown> = {
  triggerRead: { groupRef: 'acme', mode: 'async' },
  pauseReads: { objects: ['contacts'], note: 'bad input' },
  unpauseReads: { objects: ['contacts'], note: 'bad input' },
  deliverResults: { groupRef: 'acme', pages: 1 },
};
/** What each operation answers to a valid request. */
const ANSWERS: Record<string, number> = {
  triggerRead: 201,
  pauseReads: 204,
  unpauseReads: 204,
  deliverResults: 501,
};

describe('bad input to the Read API', () => {
  let data: AmpersandData;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let intruder: Awaited<ReturnType<typeof createProject>>;

  const pathValues = () => ({
    projectIdOrName: 'default',
    integrationId: INTEGRATION,
    objectName: 'contacts',
    installationId: data.installation.id,
  });
  const validRequest = (op: Operation): RequestCase => ({
    name: 'valid',
    method: op.method,
    path: `/read/v1${fillPath(op.path, pathValues())}`,
    headers: { 'x-api-key': data.t.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(VALID_BODIES[op.id]),
    expect: ANSWERS[op.id]!,
  });
  const runs = async () =>
    (await listSyncRuns(data.t.runtime.deps, data.projectId, {}, { pageSize: 100 })).results;
  const pausedSyncs = async () =>
    (await listSyncs(data.t.runtime.deps, data.projectId, {}, { pageSize: 100 })).results.filter(
      (s) => s.paused,
    );

  beforeAll(async () => {
    receiver = await startReceiver();
    data = await startAmpersandData({ records: 5, hookUrl: receiver.url });
    intruder = await createProject(data.t.runtime.deps.db, 'intruder');
    // The installations' first reads start on their own; the refusals must start none.
    await until('the first reads to end', async () => {
      const all = await runs();
      return all.length === 2 && all.every((r) => r.status !== 'running');
    });
  });
  afterAll(async () => {
    await data?.stop();
    await receiver?.close();
  });

  /** The bad requests of one operation, each otherwise valid. */
  function casesFor(op: Operation): RequestCase[] {
    const out: RequestCase[] = [];
    // Past authentication and the project check, :deliverResults answers only that it is not offered.
    const past = (expected: Expected): Expected => (op.id === 'deliverResults' ? 501 : expected);
    const add = (name: string, expect: Expected, change: (c: RequestCase) => void) => {
      const c = { ...validRequest(op), name, expect };
      change(c);
      out.push(c);
    };
    const path = (values: Record<string, string>) => (c: RequestCase) => {
      c.path = `/read/v1${fillPath(op.path, { ...pathValues(), ...values })}`;
    };
    const body = (changes: Record<string, unknown>) => (c: RequestCase) => {
      c.body = JSON.stringify({ ...(VALID_BODIES[op.id] as object), ...changes });
    };

    for (const [name, key] of badApiKeys(data.t.apiKey))
      add(name, 401, (c) => {
        if (key === undefined) delete c.headers['x-api-key'];
        else c.headers['x-api-key'] = key;
      });
    add('a bearer token instead', 401, (c) => {
      delete c.headers['x-api-key'];
      c.headers.authorization = 'Bearer e30.e30.e30';
    });
    add("another project's key, on its own project", past(404), (c) => {
      c.headers['x-api-key'] = intruder.apiKey;
      path({ projectIdOrName: intruder.project.name })(c);
    });

    const named = op.params.filter((p) => p.in === 'path').map((p) => p.name);
    for (const [value, expected] of [...BAD_IDS, [crypto.randomUUID(), 404] as const]) {
      const shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 10)}…` : value);
      for (const name of named)
        add(
          `path ${name}=${shown}`,
          name === 'projectIdOrName' ? expected : past(expected),
          path({ [name]: value }),
        );
    }
    add('path projectIdOrName of another project', 404, path({ projectIdOrName: intruder.project.name }));
    add('a path of no operation', 404, (c) => {
      c.path = `${c.path}/more`;
    });
    add('a method the path does not have', 405, (c) => {
      c.method = 'PUT';
    });

    if (op.id === 'triggerRead') {
      add('an object the installation does not read', 404, path({ objectName: 'deals' }));
      add('a group with no installation', 404, body({ groupRef: 'nobody' }));
      add('a hostile group', 404, body({ groupRef: HOSTILE }));
      add('untilTimestamp', 400, body({ untilTimestamp: '2030-01-01T00:00:00Z' }));
      for (const since of ['yesterday', '', '2024-13-45T00:00:00Z', '2024-07-01T18:22:30', NUL, HOSTILE])
        add(`sinceTimestamp ${JSON.stringify(since)}`, 400, body({ sinceTimestamp: since }));
    }
    if (op.id === 'pauseReads' || op.id === 'unpauseReads') {
      add('an object the installation does not read', 400, body({ objects: ['deals'] }));
      add('a hostile object', 400, body({ objects: [HOSTILE] }));
      add('an object holding NUL', '4xx', body({ objects: [NUL] }));
    }

    for (const c of bodyCases(op, VALID_BODIES[op.id], ANSWERS[op.id]!)) {
      // An unpause keeps no note, so one no stored text could hold does no harm.
      const kept = !(op.id === 'unpauseReads' && c.name === 'body.note with a NUL character');
      out.push(withBody(validRequest(op), { ...c, expect: kept ? past(c.expect) : 204 }));
    }
    return out;
  }

  it('refuses every bad request with a 4xx problem (:deliverResults its 501), and starts or pauses nothing', async () => {
    const all = OPERATIONS.flatMap(casesFor);
    const accepted = all.filter((c) => c.expect === 204);
    const refused = all.filter((c) => c.expect !== 204);
    expect(refused.length).toBeGreaterThan(200);
    // The optional bodies left out, or empty, and a note not kept; done below, once the refusals are checked.
    expect(accepted.map((c) => `${c.path.split(':').pop()} ${c.name}`).sort()).toEqual([
      'pause empty JSON body',
      'pause no body',
      'unpause body.note with a NUL character',
      'unpause empty JSON body',
      'unpause no body',
    ]);
    const from = data.recorder.exchanges.length;
    const runsBefore = await runs();
    const { wrong } = await sendCases(data.t.baseUrl, refused, (res) => expectProblem(res, res.status));
    expect(wrong).toEqual([]);
    expect(data.recorder.exchanges.slice(from).map((e) => `${e.method} ${e.path}`)).toEqual([]);
    expect(await runs()).toEqual(runsBefore);
    expect(await pausedSyncs()).toEqual([]);

    // Without a body, pausing pauses every object the installation reads, and unpausing resumes them.
    for (const verb of ['pause', 'unpause'])
      for (const c of accepted.filter((a) => a.path.endsWith(`:${verb}`))) {
        const { wrong: refusedValid } = await sendCases(data.t.baseUrl, [c], () => {});
        expect(refusedValid).toEqual([]);
        expect((await pausedSyncs()).map((s) => s.installationId)).toEqual(
          verb === 'pause' ? [data.installation.id] : [],
        );
      }
  });

  it('logged no error', () => {
    expect(data.t.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
  });
});
