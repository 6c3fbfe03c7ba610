/**
 * The permission matrix: who may run which command on whom. Roles are always
 * read server-side (database, briefly cached), never from the client.
 *
 * | command                                   | admin | owner | manager | others |
 * |-------------------------------------------|-------|-------|---------|--------|
 * | /help                                     |  yes  |  yes  |   yes   |  yes   |
 * | /ban /timeout /unban /untimeout           |  yes  |  yes  |   yes*  |   no   |
 * | modes, /clear, /delete, /filter, /mods    |  yes  |  yes  |   yes   |   no   |
 * | /mod /unmod                               |  yes  |  yes  |   no    |   no   |
 *
 * (*) nobody may ban or time out themselves, the channel owner or a global
 * admin; a manager may not ban or time out another manager (the owner may).
 */
import { ModerationError } from './codes.js';
import type { Command, CommandKind } from './commands.js';

/** Roles is what we know about one user in one channel. */
export interface Roles {
  admin: boolean;
  owner: boolean;
  manager: boolean;
}

export const NO_ROLES: Roles = { admin: false, owner: false, manager: false };

/** isPrivileged: owners, managers and global admins are exempt from chat modes and slow mode. */
export const isPrivileged = (r: Roles): boolean => r.admin || r.owner || r.manager;

export type Need = 'anyone' | 'manager' | 'owner';

/** needOf gives the least role a command needs. */
export function needOf(cmd: Command): Need {
  return needOfKind(cmd.kind);
}

/** needOfKind gives the least role a kind of command needs. */
export function needOfKind(kind: CommandKind): Need {
  switch (kind) {
    case 'help':
      return 'anyone';
    case 'mod':
    case 'unmod':
      return 'owner';
    default:
      return 'manager';
  }
}

/** mayRun tells whether roles allow a kind of command (the /help list shows only these). */
export function mayRun(actor: Roles, kind: CommandKind): boolean {
  const need = needOfKind(kind);
  return need === 'anyone' || actor.admin || actor.owner || (need === 'manager' && actor.manager);
}

/** assertMayRun throws notAllowed unless the actor holds the command's role. */
export function assertMayRun(actor: Roles, cmd: Command): void {
  if (mayRun(actor, cmd.kind)) return;
  const need = needOf(cmd);
  throw new ModerationError('notAllowed', need === 'owner' ? `only the channel owner may use /${cmd.kind}` : `only the channel owner or a manager may use /${cmd.kind.replace('_', ' ')}`);
}

/** assertMayTarget throws targetProtected when a ban/timeout/mod change may not touch this user. */
export function assertMayTarget(actor: Roles, actorId: string, cmd: Command, targetId: string, target: Roles): void {
  if (cmd.kind === 'ban' || cmd.kind === 'timeout') {
    if (targetId === actorId) throw new ModerationError('targetProtected', `you cannot ${cmd.kind} yourself`);
    if (target.owner) throw new ModerationError('targetProtected', `the channel owner cannot be ${cmd.kind === 'ban' ? 'banned' : 'timed out'}`);
    if (target.admin) throw new ModerationError('targetProtected', `a site admin cannot be ${cmd.kind === 'ban' ? 'banned' : 'timed out'}`);
    if (target.manager && !(actor.owner || actor.admin)) throw new ModerationError('targetProtected', 'managers cannot act on other managers');
  }
  if (cmd.kind === 'mod' && target.owner) throw new ModerationError('targetProtected', 'the owner already has every right');
}
