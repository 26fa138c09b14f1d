/** Access tokens the simulated Entra ID issues and the simulated Graph accepts. */
import { randomBytes } from "node:crypto";

export interface IssuedToken {
  clientId: string;
  roles: readonly string[];
  expiresAt: number;
  generation: number;
}

export type TokenCheck =
  | { ok: true; token: IssuedToken }
  | { ok: false; reason: "missing" | "malformed" | "unknown" | "expired" | "revoked" };

const PRUNE_AT = 10_000;

export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();
  private generation = 0;
  issued = 0;

  constructor(private readonly now: () => number) {}

  issue(clientId: string, roles: readonly string[], lifetimeSeconds: number): string {
    const token = randomBytes(48).toString("base64url");
    const now = this.now();
    if (this.tokens.size >= PRUNE_AT) {
      for (const [key, value] of this.tokens) {
        if (value.expiresAt <= now || value.generation < this.generation) this.tokens.delete(key);
      }
    }
    this.tokens.set(token, {
      clientId,
      roles,
      expiresAt: now + lifetimeSeconds * 1000,
      generation: this.generation,
    });
    this.issued++;
    return token;
  }

  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    if (authorization === undefined || authorization.trim() === "") return { ok: false, reason: "missing" };
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return { ok: false, reason: "malformed" };
    const token = this.tokens.get(match[1] as string);
    if (token === undefined) return { ok: false, reason: "unknown" };
    if (token.generation < this.generation) return { ok: false, reason: "revoked" };
    if (token.expiresAt <= this.now()) return { ok: false, reason: "expired" };
    return { ok: true, token };
  }

  /** Every token issued so far becomes invalid, whatever its expiry. */
  revokeAll(): void {
    this.generation++;
  }
}
