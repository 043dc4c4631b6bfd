// `clvp score`: STUB registered by the CLI skeleton; the lead replaces this file with the real command.
import { Command } from 'commander';
import { CliError, CliIO } from './errors';

export function registerScore(program: Command, _io: CliIO): void {
  program
    .command('score')
    .description('score text/speech pairs with the CLVP encoders (not yet implemented)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new CliError('score: not yet implemented', 2);
    });
}
