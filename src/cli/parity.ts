// `clvp parity`: STUB registered by the CLI skeleton; the lead replaces this file with the real command.
import { Command } from 'commander';
import { CliError, CliIO } from './errors';

export function registerParity(program: Command, _io: CliIO): void {
  program
    .command('parity')
    .description('run the reference parity cases against this port (not yet implemented)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new CliError('parity: not yet implemented', 2);
    });
}
