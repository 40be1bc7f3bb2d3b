import { createHash } from 'node:crypto';
import type { Project } from '../../core/projects.ts';

/**
 * The organization a project belongs to. Trellis has none (each project stands alone), and
 * Ampersand clients expect one: a UUID derived from the project's id, the same on every call and
 * every server of one database.
 */
export function orgIdOf(projectId: string): string {
  const bytes = createHash('sha1').update(`trellis-org:${projectId}`).digest().subarray(0, 16);
  // Shaped as a name-based (version 5) UUID, so that it reads as one.
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

/**
 * A project in the Platform API's shape. Its app name (what the connect UI shows its users) is the
 * project's name until projects have a display name of their own. A self-hosted server shows no
 * vendor branding in the embedded UI, so the entitlement that removes it is always on.
 */
export const ampersandProject = (project: Project, opts: { includeEntitlements: boolean }) => ({
  id: project.id,
  name: project.name,
  appName: project.name,
  orgId: orgIdOf(project.id),
  createTime: project.createdAt.toISOString(),
  ...(opts.includeEntitlements ? { entitlements: { brandingRemoval: { value: true } } } : {}),
});
