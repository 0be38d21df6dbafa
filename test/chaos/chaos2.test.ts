import { chaosSuite } from './suite';

// Part 2 of the chaos suite: jest runs it beside part 1 (chaos.test.ts), on the other worker.
chaosSuite(2);
