// The simulator's seeded randomness is the product's own (shared/rng.ts): one generator, two users.
export { Rng } from '../../shared/rng';
