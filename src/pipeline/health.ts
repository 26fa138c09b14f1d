export type Dependency = "token" | "graph" | "kafka" | "registry";

/** What /readyz reports: each dependency's last known state. */
export class Health {
  private readonly state = new Map<Dependency, boolean>();

  set(dependency: Dependency, ok: boolean): void {
    this.state.set(dependency, ok);
    if (dependency === "graph" && ok) this.state.set("token", true);
  }

  ready(): boolean {
    return (["token", "graph", "kafka", "registry"] as const).every((d) => this.state.get(d) === true);
  }

  snapshot(): Record<Dependency, boolean | null> {
    return {
      token: this.state.get("token") ?? null,
      graph: this.state.get("graph") ?? null,
      kafka: this.state.get("kafka") ?? null,
      registry: this.state.get("registry") ?? null,
    };
  }
}
