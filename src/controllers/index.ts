// The controllers `annotary run` can start (--controllers selects among them).
import type { ControllerName } from '../config.js';
import type { ControllerModule } from './context.js';
import { keystoresController } from './keystores.js';
import { truststoresController } from './truststores.js';

const notYet = (name: ControllerName): ControllerModule => ({
  name,
  async setup(ctx) {
    ctx.log.warn('controller not implemented in this version; skipped', { controller: name });
    return [];
  },
});

export const CONTROLLER_MODULES: Record<ControllerName, ControllerModule> = {
  // Secrets' keystores and ConfigMaps' truststores are one concern for users: one switch
  keystores: {
    name: 'keystores',
    async setup(ctx) { return [...(await keystoresController.setup(ctx)), ...(await truststoresController.setup(ctx))]; },
  },
  routes: notYet('routes'),
  ingresses: notYet('ingresses'),
  reload: notYet('reload'),
  expiry: notYet('expiry'),
};
