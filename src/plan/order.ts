// Startup order from depends_on: waves of services whose dependencies are all in earlier
// waves. Services of a wave start together; `down` walks the waves backwards.

export type DependencyGraph = Record<string, readonly string[]>;

/** One dependency cycle as a path that returns to its start (a → b → a), if any. */
export function findCycle(graph: DependencyGraph): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const dependency of graph[name] ?? []) {
      if (!Object.hasOwn(graph, dependency)) continue;
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(graph)) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Startup waves, each sorted by name. Assumes the graph has no cycle. */
export function startupWaves(graph: DependencyGraph): string[][] {
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const dependencies = (graph[name] ?? []).filter((dependency) =>
      Object.hasOwn(graph, dependency),
    );
    const value = dependencies.length === 0 ? 0 : 1 + Math.max(...dependencies.map(depthOf));
    depth.set(name, value);
    return value;
  };
  const waves: string[][] = [];
  for (const name of Object.keys(graph)) {
    const level = depthOf(name);
    (waves[level] ??= []).push(name);
  }
  return waves.map((wave) => wave.sort());
}
