import { Rng } from './rng';

/**
 * Routes a fault can target; `msi` is the managed-identity endpoint; `graphQueries` (create and list),
 * `graphQuery` (get one) and `graphRecords` are Graph's audit log query API.
 */
export type FaultRoute =
  | 'token'
  | 'start'
  | 'stop'
  | 'list'
  | 'content'
  | 'blob'
  | 'msi'
  | 'graphQueries'
  | 'graphQuery'
  | 'graphRecords';
export const FAULT_ROUTES: readonly FaultRoute[] = [
  'token',
  'start',
  'stop',
  'list',
  'content',
  'blob',
  'msi',
  'graphQueries',
  'graphQuery',
  'graphRecords',
];

export type FaultAction =
  /** '403-AF429' is how the service throttles; '429' is what a client must also survive. */
  | { kind: 'throttle'; shape: '403-AF429' | '429'; retryAfterSeconds?: number }
  | { kind: 'error'; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'hang' }
  | { kind: 'truncate' }
  | { kind: 'reset' }
  | { kind: 'malformed'; body?: string };

export interface FaultRule {
  route?: FaultRoute | FaultRoute[];
  tenantId?: string;
  contentType?: string;
  contentId?: string;
  /** Let the first N matching requests through. */
  after?: number;
  /** How many times to fire; default 1, Infinity allowed. */
  times?: number;
  probability?: number;
  action: FaultAction;
}

export interface FaultHandle {
  readonly id: string;
  readonly rule: FaultRule | RandomFaultOptions;
  /** How many requests this rule has answered. */
  readonly hits: number;
  remove(): void;
}

export interface RandomFaultOptions {
  seed: number | string;
  /** Probability that a request on one of the routes gets a fault. */
  rate: number;
  actions?: FaultAction[];
  routes?: FaultRoute[];
}

export interface FaultController {
  add(rule: FaultRule): FaultHandle;
  clear(): void;
  /** Replaces any earlier randomizer; faults are drawn from a seeded Rng so a chaos run can be replayed. */
  randomize(opts: RandomFaultOptions): FaultHandle;
  list(): FaultHandle[];
}

export interface FaultContext {
  route: FaultRoute;
  tenantId?: string | undefined;
  contentType?: string | undefined;
  contentId?: string | undefined;
}

/** Chaos defaults: everything a client must survive without waiting for its own timeout. */
export const DEFAULT_RANDOM_ACTIONS: FaultAction[] = [
  { kind: 'throttle', shape: '403-AF429' },
  { kind: 'throttle', shape: '429', retryAfterSeconds: 1 },
  { kind: 'error', status: 500, code: 'AF50000' },
  { kind: 'error', status: 503 },
  { kind: 'delay', ms: 200 },
  { kind: 'reset' },
  { kind: 'truncate' },
  { kind: 'malformed' },
];

const DEFAULT_RANDOM_ROUTES: FaultRoute[] = ['token', 'start', 'stop', 'list', 'content', 'blob'];

interface RuleState {
  id: string;
  rule: FaultRule;
  routes: FaultRoute[] | undefined;
  matches: number;
  hits: number;
}

interface Randomizer {
  id: string;
  opts: RandomFaultOptions;
  rng: Rng;
  actions: FaultAction[];
  routes: FaultRoute[];
  hits: number;
}

function validateAction(a: unknown): FaultAction {
  const action = a as FaultAction;
  if (typeof action !== 'object' || action === null) throw new Error('fault: action is required');
  switch (action.kind) {
    case 'throttle':
      if (action.shape !== '403-AF429' && action.shape !== '429') {
        throw new Error("fault: throttle shape must be '403-AF429' or '429'");
      }
      return action;
    case 'error':
      if (!Number.isInteger(action.status) || action.status < 400 || action.status > 599) {
        throw new Error('fault: error status must be an HTTP error status (400-599)');
      }
      return action;
    case 'delay':
      if (!(action.ms >= 0)) throw new Error('fault: delay ms must be >= 0');
      return action;
    case 'hang':
    case 'truncate':
    case 'reset':
    case 'malformed':
      return action;
    default:
      throw new Error(`fault: unknown action kind ${JSON.stringify((action as { kind?: unknown }).kind)}`);
  }
}

/** Accepts JSON-borne rules too: `times` may arrive as null or "Infinity" because JSON has no Infinity. */
export function normalizeRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null) throw new Error('fault: rule must be an object');
  const raw = input as Record<string, unknown>;
  const rule = { ...(raw as unknown as FaultRule) };
  if (raw.times === null || raw.times === 'Infinity') rule.times = Infinity;
  const routes = rule.route === undefined ? [] : Array.isArray(rule.route) ? rule.route : [rule.route];
  for (const r of routes) if (!FAULT_ROUTES.includes(r)) throw new Error(`fault: unknown route ${String(r)}`);
  if (rule.times !== undefined && !(rule.times >= 0)) throw new Error('fault: times must be >= 0');
  if (rule.after !== undefined && !(rule.after >= 0)) throw new Error('fault: after must be >= 0');
  if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
    throw new Error('fault: probability must be between 0 and 1');
  }
  rule.action = validateAction(rule.action);
  return rule;
}

export class FaultRegistry implements FaultController {
  private rules: RuleState[] = [];
  private randomizer: Randomizer | undefined;
  private nextId = 1;
  private readonly rng: Rng;

  constructor(seed: string) {
    this.rng = new Rng(`${seed}:faults`);
  }

  add(input: FaultRule): FaultHandle {
    const rule = normalizeRule(input);
    const state: RuleState = {
      id: `f${this.nextId++}`,
      rule,
      routes: rule.route === undefined ? undefined : Array.isArray(rule.route) ? rule.route : [rule.route],
      matches: 0,
      hits: 0,
    };
    this.rules.push(state);
    return this.handleFor(state);
  }

  private handleFor(state: RuleState): FaultHandle {
    return {
      id: state.id,
      rule: state.rule,
      get hits() {
        return state.hits;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== state);
      },
    };
  }

  private randomHandle(r: Randomizer): FaultHandle {
    return {
      id: r.id,
      rule: r.opts,
      get hits() {
        return r.hits;
      },
      remove: () => {
        if (this.randomizer === r) this.randomizer = undefined;
      },
    };
  }

  clear(): void {
    this.rules = [];
    this.randomizer = undefined;
  }

  randomize(opts: RandomFaultOptions): FaultHandle {
    if (!(opts.rate >= 0 && opts.rate <= 1)) throw new Error('fault: randomize rate must be between 0 and 1');
    const actions = (opts.actions ?? DEFAULT_RANDOM_ACTIONS).map(validateAction);
    if (actions.length === 0) throw new Error('fault: randomize needs at least one action');
    const routes = opts.routes ?? DEFAULT_RANDOM_ROUTES;
    for (const r of routes)
      if (!FAULT_ROUTES.includes(r)) throw new Error(`fault: unknown route ${String(r)}`);
    const r: Randomizer = {
      id: `f${this.nextId++}`,
      opts,
      rng: new Rng(`${opts.seed}:chaos`),
      actions,
      routes,
      hits: 0,
    };
    this.randomizer = r;
    return this.randomHandle(r);
  }

  list(): FaultHandle[] {
    const out = this.rules.map((s) => this.handleFor(s));
    if (this.randomizer) out.push(this.randomHandle(this.randomizer));
    return out;
  }

  /** The fault to apply to this request, if any. Every matching rule counts the request (for `after`). */
  match(ctx: FaultContext): FaultAction | undefined {
    let chosen: FaultAction | undefined;
    for (const s of this.rules) {
      const r = s.rule;
      if (s.routes && !s.routes.includes(ctx.route)) continue;
      if (r.tenantId !== undefined && r.tenantId.toLowerCase() !== ctx.tenantId?.toLowerCase()) continue;
      if (r.contentType !== undefined && r.contentType !== ctx.contentType) continue;
      if (r.contentId !== undefined && r.contentId !== ctx.contentId) continue;
      s.matches += 1;
      if (chosen) continue;
      if (s.matches <= (r.after ?? 0)) continue;
      if (s.hits >= (r.times ?? 1)) continue;
      if (r.probability !== undefined && !this.rng.chance(r.probability)) continue;
      s.hits += 1;
      chosen = r.action;
    }
    const rnd = this.randomizer;
    if (!chosen && rnd && rnd.routes.includes(ctx.route)) {
      // Draw both numbers every time so the schedule depends only on the request sequence.
      const fire = rnd.rng.chance(rnd.opts.rate);
      const action = rnd.rng.pick(rnd.actions);
      if (fire) {
        rnd.hits += 1;
        chosen = action;
      }
    }
    return chosen;
  }
}
