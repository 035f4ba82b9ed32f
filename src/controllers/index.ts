// The controllers `annotary run` can start (--controllers selects among them).
import type { ControllerName } from '../config.js';
import type { ControllerModule } from './context.js';
import { csrSignerController } from './csr-signer.js';
import { caInjectionController } from './ca-injection.js';
import { expiryController } from './expiry.js';
import { generatedSecretsController } from './generated-secrets.js';
import { ingressesController } from './ingresses.js';
import { issuingController } from './issuing.js';
import { keystoresController } from './keystores.js';
import { reloadController } from './reload.js';
import { routesController } from './routes.js';
import { servingCertsController } from './serving-certs.js';
import { trustBundlesController } from './trust-bundles.js';
import { truststoresController } from './truststores.js';

export const CONTROLLER_MODULES: Record<ControllerName, ControllerModule> = {
  // Secrets' keystores and ConfigMaps' truststores are one concern for users: one switch
  keystores: {
    name: 'keystores',
    declare: (ctx) => [...keystoresController.declare(ctx), ...truststoresController.declare(ctx)],
  },
  routes: routesController,
  ingresses: ingressesController,
  reload: reloadController,
  expiry: expiryController,
  generate: generatedSecretsController,
  issuing: issuingController,
  'serving-certs': servingCertsController,
  // annotary as a CSR signer (the csr: issuer's side is part of issuing)
  csr: csrSignerController,
  'ca-injection': caInjectionController,
  'trust-bundles': trustBundlesController,
};
