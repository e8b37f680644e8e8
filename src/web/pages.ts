import type { FastifyInstance } from 'fastify';
import type { Tokenkeeper } from '../service.ts';

/** Placeholder: the first page is registered here. */
export function registerPages(_app: FastifyInstance, _tk: Tokenkeeper): void {}
