/** What the webhook step asks of a provider client, whatever the provider. */

/** Which hook: Argo CD's or Seldon Deploy's. */
export type HookRole = 'argocd' | 'seldonDeploy';

/** A hook as the provider lists it, reduced to what is compared. */
export interface LiveHook {
  /** GitHub/GitLab numeric id as text; Bitbucket's `{uuid}`. */
  id: string;
  url: string;
  /** The provider's hook object as listed (never holds our secret: providers do not return it). */
  raw: Record<string, unknown>;
}

/** A hook as this program wants it. */
export interface DesiredHook {
  role: HookRole;
  url: string;
  /** Argo CD's hook: the shared secret (GitHub HMAC key, GitLab token); none for Seldon Deploy's. */
  secret?: string | undefined;
  /** The provider does not verify the target's certificate (webhooks.insecureSkipTlsVerify). */
  insecureSsl: boolean;
}

export interface ProviderClient {
  /** Every hook of the repository, every page. */
  list(): Promise<LiveHook[]>;
  create(hook: DesiredHook): Promise<LiveHook>;
  update(id: string, hook: DesiredHook): Promise<LiveHook>;
  /**
   * The settings of `live` that differ from `hook` (empty: nothing to do). The URL is compared by the
   * caller; a secret cannot be read back, so only its presence is compared where the provider shows it.
   */
  differences(live: LiveHook, hook: DesiredHook): string[];
  /** Write requests sent so far. */
  readonly writes: number;
}
