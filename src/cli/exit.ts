// A request to exit with a code and nothing printed (a closed stdout pipe, for one).

export class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
