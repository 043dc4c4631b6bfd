// Every test runs in Node: install the Node platform, as src/index.ts does for library users.
import '../../src/platform/node_install';
