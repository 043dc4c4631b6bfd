// `clvp generate`: STUB registered by the CLI skeleton; the lead replaces this file with the real command.
import { Command } from 'commander';
import { CliError, CliIO } from './errors';

export function registerGenerate(program: Command, _io: CliIO): void {
  program
    .command('generate')
    .description('generate speech tokens for a text and a voice sample (not yet implemented)')
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .action(() => {
      throw new CliError('generate: not yet implemented', 2);
    });
}
