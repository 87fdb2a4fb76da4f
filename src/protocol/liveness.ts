// How the hub tells a live node from a lost one. Agents send a heartbeat every second (and
// a full report whenever something changes); the hub stamps each with its own clock on
// arrival, so clock skew between nodes does not matter, and checks ten times a second (a
// pass over the nodes' arrival times: the bound on detection is silence + one tick).
/** How often an agent says it is alive when nothing changed. */
export const HEARTBEAT_MS = 1_000;

/** A node silent for longer is lost: its instances leave the routes. Two heartbeats missed, plus slack. */
export const STALE_AFTER_MS = 2_500;

/** How often the hub looks for nodes gone silent. */
export const LIVENESS_CHECK_MS = 100;
