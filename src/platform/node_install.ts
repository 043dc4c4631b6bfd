// Importing this installs the Node platform (the library entry, the CLI, tests and benchmarks do).
import { nodePlatform } from './node';
import { setPlatform } from './platform';

setPlatform(nodePlatform);
