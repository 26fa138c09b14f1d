/** Access tokens the simulated Entra ID issues and the simulated Graph accepts. */
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign } from "node:crypto";

export interface IssuedToken {
  /** The tenant it was issued for (its id in lower case): Graph attributes the request to it. */
  tenant: string;
  clientId: string;
  roles: readonly string[];
  expiresAt: number;
  /** The store's generation when issued: revokeAll() makes every older one invalid. */
  generation: number;
  /** Its tenant's generation when issued: revokeTenant() makes that tenant's older ones invalid. */
  tenantGeneration: number;
}

export type TokenCheck =
  | { ok: true; token: IssuedToken }
  | { ok: false; reason: "missing" | "malformed" | "unknown" | "expired" | "revoked" };

const PRUNE_AT = 10_000;

export class TokenStore {
  private readonly tokens = new Map<string, IssuedToken>();
  private generation = 0;
  /** Per tenant (lower case), the generation of its last revocation; 0 when never revoked. */
  private readonly tenantGenerations = new Map<string, number>();
  issued = 0;

  constructor(private readonly now: () => number) {}

  private revoked(token: IssuedToken): boolean {
    return (
      token.generation < this.generation ||
      token.tenantGeneration < (this.tenantGenerations.get(token.tenant) ?? 0)
    );
  }

  issue(tenant: string, clientId: string, roles: readonly string[], lifetimeSeconds: number): string {
    const token = randomBytes(48).toString("base64url");
    const now = this.now();
    if (this.tokens.size >= PRUNE_AT) {
      for (const [key, value] of this.tokens) {
        if (value.expiresAt <= now || this.revoked(value)) this.tokens.delete(key);
      }
    }
    this.tokens.set(token, {
      tenant,
      clientId,
      roles,
      expiresAt: now + lifetimeSeconds * 1000,
      generation: this.generation,
      tenantGeneration: this.tenantGenerations.get(tenant) ?? 0,
    });
    this.issued++;
    return token;
  }

  private lookup(authorization: string | undefined): IssuedToken | "missing" | "malformed" | "unknown" {
    if (authorization === undefined || authorization.trim() === "") return "missing";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return "malformed";
    return this.tokens.get(match[1] as string) ?? "unknown";
  }

  /** The tenant (lower case) a bearer token was issued for, valid or not; undefined when unknown. */
  tenantOf(authorization: string | undefined): string | undefined {
    const token = this.lookup(authorization);
    return typeof token === "string" ? undefined : token.tenant;
  }

  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    const token = this.lookup(authorization);
    if (typeof token === "string") return { ok: false, reason: token };
    if (this.revoked(token)) return { ok: false, reason: "revoked" };
    if (token.expiresAt <= this.now()) return { ok: false, reason: "expired" };
    return { ok: true, token };
  }

  /** Every token issued so far becomes invalid, whatever its expiry and tenant. */
  revokeAll(): void {
    this.generation++;
  }

  /** Every token issued so far for `tenant` (lower case) becomes invalid; other tenants' stay valid. */
  revokeTenant(tenant: string): void {
    this.tenantGenerations.set(tenant, (this.tenantGenerations.get(tenant) ?? 0) + 1);
  }
}

/**
 * Tokens for Kafka's OAUTHBEARER: RS256 JWTs that a broker validates itself against a JWKS, for
 * the audience whose `<audience>/.default` scope a client asks for.
 */
export interface KafkaTokenOptions {
  /** `aud` of the tokens; clients ask for the scope `<audience>/.default`. */
  audience: string;
  /** `iss` of the tokens. */
  issuer: string;
  /** PEM of the RSA private key the tokens are signed with. */
  signingKeyPem: string;
  /** `kid` of the key in the JWKS. */
  kid: string;
  /** A client of its own, accepted for this scope only (besides the simulator's client). */
  client?: { clientId: string; clientSecret: string };
  /** Default: the simulator's token lifetime. */
  lifetimeSeconds?: number;
}

export class KafkaTokenIssuer {
  private readonly key: KeyObject;
  issued = 0;

  constructor(
    readonly options: KafkaTokenOptions,
    private readonly now: () => number,
  ) {
    this.key = createPrivateKey(options.signingKeyPem);
    if (this.key.asymmetricKeyType !== "rsa")
      throw new TypeError("kafkaTokens.signingKeyPem must be an RSA key");
  }

  get scope(): string {
    return `${this.options.audience}/.default`;
  }

  issue(subject: string, lifetimeSeconds: number): string {
    const iat = Math.floor(this.now() / 1000);
    this.issued++;
    return signJwt(
      {
        aud: this.options.audience,
        iss: this.options.issuer,
        sub: subject,
        azp: subject,
        iat,
        nbf: iat,
        exp: iat + lifetimeSeconds,
        scope: "kafka",
        jti: randomBytes(12).toString("base64url"),
      },
      this.key,
      this.options.kid,
    );
  }

  /** The public key as a JWKS entry. */
  jwk(): Record<string, unknown> {
    return {
      ...createPublicKey(this.key).export({ format: "jwk" }),
      kid: this.options.kid,
      use: "sig",
      alg: "RS256",
    };
  }
}

/** A compact RS256 JWS of `claims`. */
export function signJwt(claims: Record<string, unknown>, key: KeyObject | string, kid: string): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part({ alg: "RS256", typ: "JWT", kid })}.${part(claims)}`;
  const signature = sign("sha256", Buffer.from(input), typeof key === "string" ? createPrivateKey(key) : key);
  return `${input}.${signature.toString("base64url")}`;
}
