/** The mcutrain process: runs the command line (cli.ts) and turns its outcome into output and an exit status. */
import { main } from './cli.ts';
import { exitCodeOf, userError } from './exit_codes.ts';

/**
 * A reader that goes away early (`mcutrain plan ... | head`) ends our output, not the run: the write
 * error is dropped, as are later writes to the closed stream, so the command still finishes its work
 * (files it writes, a device it closes) and exits with its own status.
 */
function tolerateClosedOutput(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || stream.destroyed) return;
    throw e;
  });
}

tolerateClosedOutput(process.stdout);
tolerateClosedOutput(process.stderr);

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    const error = userError(e);
    if (error) {
      console.error(`mcutrain: error: ${error.message}`);
      if (error.hint) console.error(`  hint: ${error.hint}`);
    } else {
      console.error('mcutrain: internal error (a bug; please report it with the command you ran):');
      console.error(e);
    }
    process.exitCode = exitCodeOf(e);
  },
);
