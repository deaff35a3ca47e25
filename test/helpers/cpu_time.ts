/**
 * Milliseconds of CPU this process spent since a start mark: a measure of work that, unlike the wall
 * clock, does not grow when other programs load the machine.
 */
export function cpuMark(): () => number {
  const start = process.cpuUsage();
  return () => {
    const { user, system } = process.cpuUsage(start);
    return (user + system) / 1000;
  };
}
