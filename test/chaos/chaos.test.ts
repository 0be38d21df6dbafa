import { chaosSuite } from './suite';

// Part 1 of the chaos suite; suite.ts says which schedules and why in parts.
chaosSuite(1);
