import { simControl } from '../../bench/lib.ts';
import type { IssuedTokens } from '../../simulators/core/tokens.ts';
import type { RunningSimulator } from '../../simulators/index.ts';

/**
 * A provider simulator's history, written down so that another process can rebuild the same
 * provider data later. Simulators are deterministic for a seed, but their records are dated by
 * their clock: seeded records end just before the moment they were seeded, and every change is
 * dated when it was made. Replaying the seeding and the changes at the same instants gives the
 * same records with the same modification times, which is what a Trellis watermark is compared
 * with.
 */
export interface SimulatorTimeline {
  provider: string;
  seed: number;
  /** Records per object at seeding. */
  records: number;
  /** Simulator time (epoch ms) at which every object was seeded. */
  seededAt: number;
  mutations: RecordedMutation[];
  /** Credentials the simulator issued (tokens, API keys), which a restored Trellis still holds. */
  issued: IssuedCredential[];
}

/** One `POST /__sim/mutate`: its instant (simulator time, epoch ms) and the ids it touched. */
export interface RecordedMutation {
  at: number;
  object: string;
  created: string[];
  updated: string[];
  deleted: string[];
}

export interface IssuedCredential {
  clientId: string;
  scopes: string[];
  refreshToken: string;
  accessToken: string;
}

/** What `POST /__sim/mutate` answers. */
interface MutateAnswer {
  created: string[];
  updated: string[];
  deleted: string[];
}

/**
 * Takes over a running simulator's clock so this process decides what time it is there: frozen at
 * an instant (while seeding or changing records, so every record gets exactly that time) or
 * running on in real time from an instant. The control API's `POST /__sim/clock` has no effect on
 * a simulator driven this way.
 */
export class DrivenSimulator {
  #frozenAt: number | undefined;
  #runningFrom = Date.now();
  #realStart = Date.now();
  readonly issued: IssuedCredential[] = [];
  readonly mutations: RecordedMutation[] = [];

  constructor(readonly sim: RunningSimulator) {
    sim.ctx.clock.now = () => this.#frozenAt ?? this.#runningFrom + (Date.now() - this.#realStart);
    // Every token and API key the simulator hands out goes through `grant` (consent-flow code
    // exchanges, `POST /__sim/tokens`); the fixture keeps them so a later simulator can accept them.
    const { tokens } = sim.ctx;
    const grant = tokens.grant.bind(tokens);
    tokens.grant = (clientId, scopes = []) => {
      const issued = grant(clientId, scopes);
      this.issued.push({
        clientId,
        scopes,
        refreshToken: issued.refreshToken,
        accessToken: issued.accessToken,
      });
      return issued;
    };
  }

  get url(): string {
    return this.sim.url;
  }

  now(): number {
    return this.sim.ctx.clock.now();
  }

  /** From now on the simulator's time runs on in real time from `at`. */
  runFrom(at: number): void {
    this.#frozenAt = undefined;
    this.#runningFrom = at;
    this.#realStart = Date.now();
  }

  /** Runs `work` with the simulator's clock stopped at `at`, then lets it run on from `at`. */
  async frozenAt<T>(at: number, work: () => Promise<T>): Promise<T> {
    this.#frozenAt = at;
    try {
      return await work();
    } finally {
      this.runFrom(at);
    }
  }

  /** Replaces every object's records with `records` seeded ones, dated as if seeded at `at`. */
  async seedAt(at: number, records: number): Promise<void> {
    await this.frozenAt(at, async () => {
      for (const object of Object.keys(this.sim.ctx.provider.objects)) {
        await simControl(this.url, 'seed', { object, count: records });
      }
    });
  }

  /**
   * Changes records at instant `at`: `create` new ones, and `update` and `delete` either a count of
   * records (picked by the simulator) or the listed ids. The change is recorded with the ids touched.
   */
  async mutateAt(
    at: number,
    object: string,
    change: { create?: number; update?: number | string[]; delete?: number | string[] },
  ): Promise<RecordedMutation> {
    const answer = (await this.frozenAt(at, () =>
      simControl(this.url, 'mutate', { object, ...change }),
    )) as MutateAnswer;
    const mutation = {
      at,
      object,
      created: answer.created,
      updated: answer.updated,
      deleted: answer.deleted,
    };
    this.mutations.push(mutation);
    return mutation;
  }

  /** This simulator's history so far, for a fixture. */
  timeline(seed: number, records: number, seededAt: number): SimulatorTimeline {
    return {
      provider: this.sim.ctx.provider.name,
      seed,
      records,
      seededAt,
      mutations: this.mutations,
      issued: this.issued,
    };
  }
}

/**
 * Rebuilds a recorded timeline in a simulator started with the timeline's seed: seeds at the same
 * instant and repeats each change at its instant, on the same ids. Creations are checked to get
 * the ids they got then (ids follow from the seed and the order of changes). Leaves the clock
 * frozen at the last instant replayed, running on from there.
 */
export async function replayTimeline(driven: DrivenSimulator, timeline: SimulatorTimeline): Promise<void> {
  await driven.seedAt(timeline.seededAt, timeline.records);
  for (const m of timeline.mutations) {
    const again = await driven.mutateAt(m.at, m.object, {
      create: m.created.length,
      update: m.updated,
      delete: m.deleted,
    });
    if (JSON.stringify(again.created) !== JSON.stringify(m.created)) {
      throw new Error(
        `replaying ${timeline.provider} ${m.object}: created ${again.created.join(',')}, the fixture had ${m.created.join(',')}`,
      );
    }
  }
}

/**
 * Makes a simulator accept credentials an earlier simulator process issued, as the provider keeps
 * accepting them across a Trellis upgrade. Each earlier grant is stood in for by a fresh grant of
 * this simulator: a refresh with the earlier refresh token refreshes the stand-in (and, unless the
 * simulator rotates refresh tokens, answers with the earlier token again), an earlier access
 * token used as an API key is taken for the stand-in's, and an earlier OAuth access token is
 * expired. Returns how often each earlier refresh token was used.
 */
export function acceptEarlierCredentials(driven: DrivenSimulator, earlier: IssuedCredential[]) {
  const { ctx } = driven.sim;
  const { tokens } = ctx;
  const refreshStandIns = new Map<string, string>();
  const accessStandIns = new Map<string, string>();
  const refreshesWith = new Map<string, number>();
  for (const credential of earlier) {
    const standIn = tokens.grant(credential.clientId, credential.scopes);
    refreshStandIns.set(credential.refreshToken, standIn.refreshToken);
    accessStandIns.set(credential.accessToken, standIn.accessToken);
    // Key-based simulators (Apollo) also keep a list of the keys they issued: the token response
    // for the earlier key puts it there, as `POST /__sim/tokens` did then.
    ctx.provider.tokenResponse(ctx, {
      ...standIn,
      accessToken: credential.accessToken,
    } satisfies IssuedTokens);
  }
  const refresh = tokens.refresh.bind(tokens);
  tokens.refresh = (request) => {
    const standIn = refreshStandIns.get(request.refreshToken);
    if (!standIn) return refresh(request);
    refreshesWith.set(request.refreshToken, (refreshesWith.get(request.refreshToken) ?? 0) + 1);
    const issued = refresh({ ...request, refreshToken: standIn });
    return issued.refreshToken === standIn ? { ...issued, refreshToken: request.refreshToken } : issued;
  };
  const infoFor = tokens.infoFor.bind(tokens);
  tokens.infoFor = (token) => infoFor(accessStandIns.get(token) ?? token);
  // Earlier OAuth access tokens are taken as expired, whenever the replay happens: a refresh then
  // shows that the earlier refresh token still works. API keys are looked up with `infoFor` and
  // have no lifetime.
  const check = tokens.check.bind(tokens);
  tokens.check = (token) => (token !== undefined && accessStandIns.has(token) ? 'expired' : check(token));
  return { refreshesWith: (refreshToken: string) => refreshesWith.get(refreshToken) ?? 0 };
}
