// e2e tests wait on a real control plane: allow minutes, not Jest's default 5 s.
import { jest } from '@jest/globals';

jest.setTimeout(180_000);
