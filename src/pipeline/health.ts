export type Dependency = "token" | "graph" | "kafka" | "registry";

/**
 * What /readyz reports: each dependency's last known state. A standby replica never asks for a
 * token or calls Graph; it is ready once Kafka and the registry answered, so that a Deployment of
 * two replicas rolls out and drains like any other.
 */
export class Health {
  private readonly state = new Map<Dependency, boolean>();
  private role: "active" | "standby" = "active";

  set(dependency: Dependency, ok: boolean): void {
    this.state.set(dependency, ok);
    if (dependency === "graph" && ok) this.state.set("token", true);
  }

  setRole(role: "active" | "standby"): void {
    this.role = role;
  }

  ready(): boolean {
    const needed: readonly Dependency[] =
      this.role === "standby" ? ["kafka", "registry"] : ["token", "graph", "kafka", "registry"];
    return needed.every((d) => this.state.get(d) === true);
  }

  snapshot(): { role: "active" | "standby" } & Record<Dependency, boolean | null> {
    return {
      role: this.role,
      token: this.state.get("token") ?? null,
      graph: this.state.get("graph") ?? null,
      kafka: this.state.get("kafka") ?? null,
      registry: this.state.get("registry") ?? null,
    };
  }
}
