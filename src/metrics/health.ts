export type Dependency = "token" | "graph" | "kafka" | "registry";

/** What /readyz asks: one stream's Health, or all of them together (StreamsHealth). */
export interface Readiness {
  ready(): boolean;
  snapshot(): object;
  /** What /status shows: each unit's state, progress and last failure; absent: no /status. */
  status?(): object;
}

/**
 * What /readyz reports: each dependency's last known state, and whether the connector's sessions
 * keep failing. A standby replica never asks for a token or calls Graph; it is ready once Kafka and
 * the registry answered, so that a Deployment of two replicas rolls out and drains like any other.
 */
export class Health {
  private readonly state = new Map<Dependency, boolean>();
  private role: "active" | "standby" = "active";
  /** The code of the failure that made sessions unhealthy; undefined while they are not. */
  private failing: string | undefined;
  /** The code of the final error that stopped this source while the process goes on. */
  private stopped: string | undefined;

  set(dependency: Dependency, ok: boolean): void {
    this.state.set(dependency, ok);
    if (dependency === "graph" && ok) this.state.set("token", true);
  }

  setRole(role: "active" | "standby"): void {
    this.role = role;
  }

  /**
   * Sessions keep failing (`code` says why) or, with undefined, work again. Unknown until the first
   * poll ends, which counts as healthy: a first catch-up of days must not hold a rollout.
   */
  setSessionFailing(code: string | undefined): void {
    this.failing = code;
  }

  /**
   * The source was stopped for good by `code` (its tenant's consent revoked, say) while the other
   * tenants' sources go on: reported, and no longer a reason for the process not to be ready.
   */
  setStopped(code: string): void {
    this.stopped = code;
  }

  /** Stopped, standing by, or active (reading, or trying to). */
  get unitState(): "active" | "standby" | "stopped" {
    return this.stopped !== undefined ? "stopped" : this.role;
  }

  ready(): boolean {
    if (this.stopped !== undefined) return true;
    const needed: readonly Dependency[] =
      this.role === "standby" ? ["kafka", "registry"] : ["token", "graph", "kafka", "registry"];
    if (this.role === "active" && this.failing !== undefined) return false;
    return needed.every((d) => this.state.get(d) === true);
  }

  snapshot(): { role: "active" | "standby"; sessionFailing: string | null; stopped?: string } & Record<
    Dependency,
    boolean | null
  > {
    return {
      ...(this.stopped === undefined ? {} : { stopped: this.stopped }),
      role: this.role,
      token: this.state.get("token") ?? null,
      graph: this.state.get("graph") ?? null,
      kafka: this.state.get("kafka") ?? null,
      registry: this.state.get("registry") ?? null,
      sessionFailing: this.failing ?? null,
    };
  }
}

type HealthSnapshot = ReturnType<Health["snapshot"]>;

/**
 * What /readyz reports for several streams: ready when every stream is; each dependency as the
 * worst any running stream saw (false over null over true; Graph and its token as the active ones
 * saw them, a standby calling neither), and each stream's own detail beside it, stopped ones too.
 */
export class StreamsHealth implements Readiness {
  private readonly streams: Map<string, Health>;

  /** `describe`: what /status lists (the units with their progress); without it, no /status. */
  constructor(
    streams: ReadonlyMap<string, Health>,
    private readonly describe?: () => object,
  ) {
    this.streams = new Map(streams);
  }

  /** A unit added while running (a tenant the reloaded tenants file adds). */
  add(name: string, health: Health): void {
    this.streams.set(name, health);
  }

  /** A unit removed while running. */
  remove(name: string): void {
    this.streams.delete(name);
  }

  status(): object {
    return this.describe?.() ?? {};
  }

  /** The health of one stream. */
  of(stream: string): Health | undefined {
    return this.streams.get(stream);
  }

  ready(): boolean {
    return [...this.streams.values()].every((health) => health.ready());
  }

  /** How many sources are active here, stand by for another replica, or were stopped. */
  unitStates(): Record<"active" | "standby" | "stopped", number> {
    const states = { active: 0, standby: 0, stopped: 0 };
    for (const health of this.streams.values()) states[health.unitState]++;
    return states;
  }

  snapshot(): HealthSnapshot & { streams: Record<string, HealthSnapshot> } {
    const each = [...this.streams].map(([name, health]) => [name, health.snapshot()] as const);
    const running = each.filter(([, snapshot]) => snapshot.stopped === undefined);
    const worst = (dependency: Dependency): boolean | null => {
      const asked =
        dependency === "token" || dependency === "graph"
          ? running.filter(([, snapshot]) => snapshot.role === "active")
          : running;
      const seen = asked.map(([, snapshot]) => snapshot[dependency]);
      if (seen.includes(false)) return false;
      return seen.includes(null) || seen.length === 0 ? null : true;
    };
    return {
      role: each.some(([, snapshot]) => snapshot.role === "active") ? "active" : "standby",
      token: worst("token"),
      graph: worst("graph"),
      kafka: worst("kafka"),
      registry: worst("registry"),
      sessionFailing:
        running.find(([, snapshot]) => snapshot.sessionFailing !== null)?.[1].sessionFailing ?? null,
      streams: Object.fromEntries(each),
    };
  }
}
