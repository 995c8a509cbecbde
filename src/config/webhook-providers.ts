/** The Git providers whose webhook APIs the program drives (a leaf, so the schema can name them). */
export const WEBHOOK_PROVIDERS = ['github', 'gitlab', 'bitbucket'] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];
